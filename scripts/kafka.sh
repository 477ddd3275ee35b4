#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft: one process is broker and controller) for dev/test.
# No tarball download is possible here, so the broker is assembled from its jars on
# Maven Central (scripts/kafka/pom.xml) and run with plain `java`.
#   scripts/kafka.sh start|stop|restart|status
#   scripts/kafka.sh topics ARGS...   # kafka-topics.sh equivalent, e.g. `topics --list`
set -euo pipefail
SERVICE=kafka
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

PORT="${SIMUSAGE_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${SIMUSAGE_KAFKA_CONTROLLER_PORT:-9093}"
HEAP="${SIMUSAGE_KAFKA_HEAP:-512m}"        # modest: 2-core box shared with Postgres and tests
POM="$REPO_DIR/scripts/kafka/pom.xml"
KDIR="$STATE_DIR/kafka"
LIBS="$KDIR/libs"
DATA="$KDIR/data"
PIDFILE="$KDIR/kafka.pid"
LOG="$STATE_DIR/kafka.log"
BOOTSTRAP="127.0.0.1:$PORT"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"

install() {
  command -v java >/dev/null || { apt-get update && apt-get install -y openjdk-17-jre-headless; }
  command -v mvn >/dev/null || { apt-get update && apt-get install -y maven; }
  # Re-copy the jars only when the pom changed; a stale mix of versions would not start.
  local stamp="$LIBS/.pom.sha256" want
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    log "fetching Kafka $KAFKA_VERSION jars with Maven (first run downloads ~60 MB into ~/.m2)"
    rm -rf "$LIBS"
    mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$LIBS" >>"$LOG" 2>&1 \
      || { tail -n 30 "$LOG" >&2; die "mvn dependency:copy-dependencies failed"; }
    echo "$want" >"$stamp"
  fi
}

# Run a Kafka CLI class; like Kafka's tools-log4j2 config, only warnings (to the console).
ktool() { java -cp "$LIBS/*" -Dlog4j2.level=WARN "$@"; }

write_config() {
  # Rewritten on every start so port/env changes take effect; the data dir keeps the cluster.
  cat >"$KDIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
# Static quorum of one: the controller address comes from this file at every start,
# so changing SIMUSAGE_KAFKA_CONTROLLER_PORT later does not break the formatted log.
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA
# Single broker: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Several partitions per auto-created topic so several ingest workers can share one.
num.partitions=4
auto.create.topics.enable=true
# Tests create consumer groups often: don't wait 3s before the first rebalance.
group.initial.rebalance.delay.ms=0
EOF
  cat >"$KDIR/log4j2.properties" <<'EOF'
# Everything to stdout, which kafka.sh appends to .run/kafka.log.
appender.out.type=Console
appender.out.name=STDOUT
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.out.ref=STDOUT
# Per-request/state-change chatter is useless for dev and floods the log.
logger.request.name=kafka.request.logger
logger.request.level=WARN
logger.state.name=state.change.logger
logger.state.level=WARN
EOF
}

ready() {
  port_open "$PORT" &&
    timeout 30 java -cp "$LIBS/*" -Dlog4j2.level=OFF org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$BOOTSTRAP" --list
}

start() {
  if pid_alive "$PIDFILE"; then
    [[ "$(cat "$PIDFILE.port" 2>/dev/null)" == "$PORT" ]] ||
      die "running (pid $(cat "$PIDFILE")) on another port than $PORT: stop it first"
    log "already running (pid $(cat "$PIDFILE")) on $BOOTSTRAP"; return 0
  fi
  port_open "$PORT" && die "port $PORT is already taken by another process"
  mkdir -p "$KDIR"
  install
  write_config
  if [[ ! -f "$DATA/meta.properties" ]]; then
    log "formatting storage in $DATA"
    ktool kafka.tools.StorageTool format -c "$KDIR/server.properties" \
      -t "$(ktool kafka.tools.StorageTool random-uuid)" >>"$LOG" 2>&1 \
      || { tail -n 30 "$LOG" >&2; die "storage format failed"; }
  fi
  log "starting broker on $BOOTSTRAP (log: $LOG)"
  # setsid: own session, so the broker outlives the calling shell/terminal.
  KAFKA_JVM=(-Xms256m "-Xmx$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
             "-Dkafka.logs.dir=$KDIR")
  setsid nohup java "${KAFKA_JVM[@]}" -cp "$LIBS/*" \
    -Dlog4j2.configurationFile="$KDIR/log4j2.properties" \
    kafka.Kafka "$KDIR/server.properties" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  echo "$PORT" >"$PIDFILE.port"
  wait_until 120 "$PIDFILE" "Kafka broker on $BOOTSTRAP" ready
  log "ready: bootstrap servers $BOOTSTRAP (Kafka $KAFKA_VERSION)"
}

stop() {
  if ! pid_alive "$PIDFILE"; then log "not running"; rm -f "$PIDFILE"; return 0; fi
  log "stopping (pid $(cat "$PIDFILE"))"
  rm -f "$PIDFILE.port"
  stop_pid "$PIDFILE" 60      # a controlled shutdown of one node takes a few seconds
  log "stopped"
}

status() {
  if pid_alive "$PIDFILE" && port_open "$PORT"; then
    log "running (pid $(cat "$PIDFILE")), bootstrap servers: $BOOTSTRAP"
  else
    log "not running"; return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  topics) shift; ktool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" "$@" ;;
  *) usage ;;
esac
