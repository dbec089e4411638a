// A client of protocol 1.0.0 written from the seed's document alone (its "Protocol"
// section), with the WebSocket every browser has, not the server's own code: it reads
// the welcome, runs the store operations, subscribes and receives a push, answers
// pings, then abuses the server (bad JSON, a flood, a silent client, a huge message)
// and prints what it saw as one JSON line.
//
// Usage: node --experimental-websocket client.mjs ws://127.0.0.1:PORT/
// The server serves the seed's Quick Start store: a bucket `users` (generated `id`,
// required `name`, `role` defaulting to `user`) and the query `all-users`.

const url = process.argv[2];
if (!url) {
  console.error("usage: client.mjs ws://host:port/");
  process.exit(2);
}
// Node 22 has a WebSocket, Node 20 behind --experimental-websocket; an older Node takes
// the `ws` package's (the same API), from the package.json NOEX_WS_FROM names.
if (typeof WebSocket === "undefined" && process.env.NOEX_WS_FROM) {
  const { createRequire } = await import("node:module");
  globalThis.WebSocket = createRequire(process.env.NOEX_WS_FROM)("ws");
}
if (typeof WebSocket === "undefined") {
  console.error("this node has no WebSocket: run it with --experimental-websocket");
  process.exit(2);
}

const PATIENCE_MS = 10_000;
const failures = [];
const summary = { failures };

function check(name, ok, seen) {
  if (!ok) failures.push({ check: name, seen });
}

function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), PATIENCE_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One connection: requests by id, pushes in order, the close. */
class Connection {
  constructor(socket, { answerPings }) {
    this.socket = socket;
    this.answerPings = answerPings;
    this.nextId = 0;
    this.pending = new Map();
    this.pushes = [];
    this.pushWaiters = [];
    this.others = [];
    this.pings = 0;
    this.welcome = new Promise((resolve) => (this.onWelcome = resolve));
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => resolve(event.code));
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
  }

  static open(url, options = { answerPings: true }) {
    const socket = new WebSocket(url);
    const connection = new Connection(socket, options);
    return within(
      new Promise((resolve, reject) => {
        socket.addEventListener("open", () => resolve(connection));
        socket.addEventListener("error", () => reject(new Error("cannot connect")));
      }),
      "connect",
    );
  }

  receive(text) {
    const message = JSON.parse(text);
    switch (message.type) {
      case "welcome":
        this.onWelcome(message);
        break;
      case "ping":
        this.pings += 1;
        if (this.answerPings) {
          this.socket.send(JSON.stringify({ type: "pong", timestamp: message.timestamp }));
        }
        break;
      case "push": {
        const waiter = this.pushWaiters.shift();
        if (waiter) waiter(message);
        else this.pushes.push(message);
        break;
      }
      case "result":
      case "error": {
        const waiter = this.pending.get(message.id);
        if (waiter) {
          this.pending.delete(message.id);
          waiter(message);
        } else {
          this.others.push(message);
        }
        break;
      }
      default:
        this.others.push(message);
    }
  }

  /** Send a request; its reply. */
  request(type, fields = {}) {
    const id = ++this.nextId;
    const reply = new Promise((resolve) => this.pending.set(id, resolve));
    this.socket.send(JSON.stringify({ id, type, ...fields }));
    return within(reply, type);
  }

  /** `data` of a result; records a failure on an error. */
  async ok(type, fields) {
    const reply = await this.request(type, fields);
    check(`${type} answers a result`, reply.type === "result", reply);
    return reply.data;
  }

  nextPush() {
    const push = this.pushes.shift();
    if (push) return Promise.resolve(push);
    return within(new Promise((resolve) => this.pushWaiters.push(resolve)), "a push");
  }

  /** The next reply that is not to a request (an error without an id). */
  async nextOther() {
    return within(
      (async () => {
        while (this.others.length === 0) await new Promise((r) => setTimeout(r, 5));
        return this.others.shift();
      })(),
      "an unsolicited reply",
    );
  }
}

async function operations() {
  const client = await Connection.open(url);
  const welcome = await within(client.welcome, "the welcome");
  summary.welcome = welcome;

  const alice = await client.ok("store.insert", { bucket: "users", data: { name: "Alice" } });
  check("insert applies the default role", alice?.role === "user", alice);
  check("insert generates an id", typeof alice?.id === "string" && alice.id.length > 0, alice);
  check("insert sets version 1", alice?._version === 1, alice);

  const got = await client.ok("store.get", { bucket: "users", key: alice.id });
  check("get returns the record", got?.name === "Alice", got);

  const updated = await client.ok("store.update", {
    bucket: "users",
    key: alice.id,
    data: { role: "admin" },
  });
  check("update sets the field", updated?.role === "admin", updated);
  check("update bumps the version", updated?._version === 2, updated);

  await client.ok("store.insert", { bucket: "users", data: { name: "Bob" } });
  const admins = await client.ok("store.where", { bucket: "users", filter: { role: "admin" } });
  check("where filters", Array.isArray(admins) && admins.length === 1, admins);

  const count = await client.ok("store.count", { bucket: "users" });
  check("count counts", count === 2, count);

  const tx = await client.ok("store.transaction", {
    operations: [
      { op: "get", bucket: "users", key: alice.id },
      { op: "update", bucket: "users", key: alice.id, data: { role: "user" } },
      { op: "insert", bucket: "users", data: { name: "Carol" } },
    ],
  });
  check("transaction answers each operation", tx?.results?.length === 3, tx);

  const deleted = await client.ok("store.delete", { bucket: "users", key: alice.id });
  check("delete deletes", deleted?.deleted === true, deleted);
  const gone = await client.ok("store.get", { bucket: "users", key: alice.id });
  check("a deleted record is gone", gone === null, gone);

  const subscribed = await client.ok("store.subscribe", { query: "all-users" });
  const subscriptionId = subscribed?.subscriptionId;
  check("subscribe gives an id", typeof subscriptionId === "string", subscribed);
  const first = await client.nextPush();
  check("the first push is the current result", first.subscriptionId === subscriptionId, first);
  await client.ok("store.insert", { bucket: "users", data: { name: "Dora" } });
  const pushed = await client.nextPush();
  check(
    "an insert pushes the new result",
    pushed.channel === "subscription" &&
      pushed.subscriptionId === subscriptionId &&
      Array.isArray(pushed.data) &&
      pushed.data.some((user) => user.name === "Dora"),
    pushed,
  );
  summary.push = { channel: pushed.channel, records: pushed.data?.length };

  const unknown = await client.request("store.nope", {});
  summary.unknownOperation = unknown.code;
  const missing = await client.request("store.get", { bucket: "nope", key: 1 });
  summary.bucketNotDefined = missing.code;

  // Stay through a few pings, answering each.
  await within(
    (async () => {
      while (client.pings < 3) await new Promise((r) => setTimeout(r, 10));
    })(),
    "three pings",
  );
  const after = await client.request("store.count", { bucket: "users" });
  summary.pongs = { answered: client.pings, stillServed: after.type === "result" };
  client.socket.close(1000);
  await within(client.closed, "the close");
}

async function badJson() {
  const client = await Connection.open(url);
  await within(client.welcome, "the welcome");
  client.socket.send("{this is not json");
  const reply = await client.nextOther();
  const after = await client.request("store.count", { bucket: "users" });
  summary.badJson = {
    code: reply.code,
    hasId: "id" in reply,
    stillOpen: client.socket.readyState === WebSocket.OPEN && after.type === "result",
  };
  const noId = JSON.stringify({ type: "store.count", bucket: "users" });
  client.socket.send(noId);
  summary.invalidRequest = (await client.nextOther()).code;
  client.socket.close(1000);
  await within(client.closed, "the close");
}

async function flood() {
  const client = await Connection.open(url);
  await within(client.welcome, "the welcome");
  const sent = 10_000;
  let answered = 0;
  const replies = [];
  // Sent in one go, without yielding: nothing is read while they are written.
  for (let n = 0; n < sent; n++) {
    replies.push(
      client.request("store.count", { bucket: "users" }).then(
        () => (answered += 1),
        () => {},
      ),
    );
  }
  const closeCode = await Promise.race([
    Promise.all(replies).then(() => null),
    client.closed,
  ]);
  summary.flood = { sent, answered, closeCode };
  if (closeCode === null) {
    client.socket.close(1000);
    await within(client.closed, "the close");
  }
  const fresh = await Connection.open(url);
  const count = await fresh.request("store.count", { bucket: "users" });
  summary.afterFlood = { freshClientServed: count.type === "result" };
  fresh.socket.close(1000);
  await within(fresh.closed, "the close");
}

async function silent() {
  const client = await Connection.open(url, { answerPings: false });
  await within(client.welcome, "the welcome");
  const code = await within(client.closed, "the silent client's close");
  summary.silent = { closeCode: code, pingsIgnored: client.pings };
}

async function huge() {
  const client = await Connection.open(url);
  await within(client.welcome, "the welcome");
  const blob = "x".repeat(2 * 1024 * 1024);
  client.socket.send(JSON.stringify({ id: 1, type: "store.insert", bucket: "users", data: { name: blob } }));
  summary.huge = { closeCode: await within(client.closed, "the close after a huge message") };
}

try {
  await operations();
  await badJson();
  await Promise.all([flood(), silent()]);
  await huge();
} catch (error) {
  failures.push({ check: "the run finished", seen: String(error) });
}
console.log(JSON.stringify(summary));
process.exit(0);
