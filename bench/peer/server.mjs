// The peer's HTTP server: grafserv on node:http at 127.0.0.1:PEER_PORT, POST /graphql only.
// PEER_PROCESSES=N (N > 1) forks N workers with node:cluster on the one port; the primary serves
// nothing itself. PEER_BALANCE chooses how the connections reach the workers:
//   reuseport (default): each worker listens on its own SO_REUSEPORT socket and the kernel spreads
//                        the connections (Node >= 22.12);
//   none:  one socket shared by the workers (cluster.SCHED_NONE, like uvicorn's workers);
//   rr:    the primary accepts and hands each connection to a worker in turn (cluster.SCHED_RR).
// "ready" is written to stdout once, when every worker listens; SIGTERM to the primary stops the
// workers too.
import cluster from "node:cluster";
import { createServer } from "node:http";

const port = Number(process.env.PEER_PORT ?? 5678);
const processes = Number(process.env.PEER_PROCESSES ?? 1);
const balance = process.env.PEER_BALANCE ?? "reuseport";

async function serve() {
  const { postgraphile } = await import("postgraphile");
  const { grafserv } = await import("postgraphile/grafserv/node");
  const { default: preset } = await import("./graphile.config.mjs");
  const pgl = postgraphile(preset);
  await pgl.getSchema(); // introspect before accepting connections
  const server = createServer();
  server.keepAliveTimeout = 65_000;
  await pgl.createServ(grafserv).addTo(server);
  const own = cluster.isWorker && balance === "reuseport" ? { exclusive: true, reusePort: true } : {};
  await new Promise((resolve) => server.listen({ port, host: "127.0.0.1", ...own }, resolve));
  const stop = () => server.close(() => Promise.resolve(pgl.release()).finally(() => process.exit(0)));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (processes > 1 && cluster.isPrimary) {
  cluster.schedulingPolicy = balance === "rr" ? cluster.SCHED_RR : cluster.SCHED_NONE;
  let ready = 0;
  let stopping = false;
  cluster.on("message", (worker, message) => {
    if (message === "ready" && ++ready === processes) process.stdout.write("ready\n");
  });
  cluster.on("exit", (worker, code) => {
    if (!stopping) {
      console.error(`peer worker ${worker.process.pid} exited (${code})`);
      process.exit(1);
    }
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
  });
  const stopAll = () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
  };
  process.on("SIGTERM", stopAll);
  process.on("SIGINT", stopAll);
  for (let i = 0; i < processes; i++) cluster.fork();
} else {
  serve().then(
    () => (cluster.isPrimary ? process.stdout.write("ready\n") : process.send("ready")),
    (error) => { console.error(error); process.exit(1); },
  );
}
