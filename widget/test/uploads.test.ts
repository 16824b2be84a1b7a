// The upload queue against a server written here that behaves as the real
// one does (http_attachments.go): a file is stored once per (conversation,
// client id), a refused type is 415, and the network can lose an answer
// after the file was stored or refuse to connect at all.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError } from "../src/shared/http";
import { UploadQueue, type Upload } from "../src/shared/uploads";

/** A server: stored files by client id, in arrival order, and what the
 * network does to the next attempts. */
function server() {
  const stored: string[] = [];
  const attempts: string[] = [];
  let loseNextAnswer = false;
  let down = false;
  const post = async (u: Upload, progress: (n: number) => void) => {
    attempts.push(u.client_id);
    await new Promise((r) => setImmediate(r));
    if (down) throw new ApiError(0, "network", "");
    if (u.name.endsWith(".exe")) throw new ApiError(415, "unsupported_type", "files of type application/octet-stream are not accepted here");
    progress(u.file.size);
    if (!stored.includes(u.client_id)) stored.push(u.client_id);
    if (loseNextAnswer) {
      loseNextAnswer = false;
      throw new ApiError(0, "network", ""); // stored, but the answer was lost
    }
  };
  return {
    stored,
    attempts,
    post,
    loseNextAnswer: () => (loseNextAnswer = true),
    setDown: (d: boolean) => (down = d),
  };
}

/** until waits for a condition (no fixed sleeps). */
async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const file = (name: string) => new File(["x".repeat(10)], name);

test("files go in the order chosen, one at a time", async () => {
  const s = server();
  let inFlight = 0;
  let most = 0;
  const q = new UploadQueue(async (u, p) => {
    most = Math.max(most, ++inFlight);
    try {
      await s.post(u, p);
    } finally {
      inFlight--;
    }
  }, () => {});
  const ids = ["a.png", "b.png", "c.png"].map((n) => q.add("conv", file(n)));
  await until("all stored", () => s.stored.length === 3 && q.items.length === 0);
  assert.deepEqual(s.stored, ids);
  assert.equal(most, 1);
});

test("a lost answer is retried with the same client id and the server keeps one file", async () => {
  const s = server();
  const q = new UploadQueue(s.post, () => {});
  s.loseNextAnswer();
  const id = q.add("conv", file("photo.png"));
  await until("the queue is empty", () => q.items.length === 0);
  assert.deepEqual(s.attempts, [id, id], "sent again after the lost answer, with its id");
  assert.deepEqual(s.stored, [id], "stored once");
});

test("offline: the queue waits, then sends when the connection is back", async () => {
  const s = server();
  const q = new UploadQueue(s.post, () => {});
  q.setOnline(false);
  const id = q.add("conv", file("photo.png"));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.attempts, [], "nothing is sent while offline");
  assert.equal(q.items.length, 1);
  q.setOnline(true);
  await until("sent", () => q.items.length === 0);
  assert.deepEqual(s.stored, [id]);
});

test("no answer at all: retried with back-off until the server answers", async () => {
  const s = server();
  const q = new UploadQueue(s.post, () => {});
  s.setDown(true);
  const id = q.add("conv", file("photo.png"));
  await until("two attempts", () => s.attempts.length >= 2);
  assert.equal(q.items[0].failed, undefined, "a network failure is not a refusal");
  s.setDown(false);
  await until("sent", () => q.items.length === 0);
  assert.deepEqual(s.stored, [id]);
  assert.ok(s.attempts.every((a) => a === id));
});

test("a refused file is kept for the person, the next one goes on; retry and remove", async () => {
  const s = server();
  let notified = 0;
  const q = new UploadQueue(s.post, () => notified++);
  const bad = q.add("conv", file("setup.exe"));
  const good = q.add("conv", file("photo.png"));
  await until("the good one is stored", () => s.stored.includes(good));
  assert.equal(q.items.length, 1);
  assert.equal(q.items[0].client_id, bad);
  assert.equal(q.items[0].failed?.code, "unsupported_type");
  assert.ok(notified > 0);
  const before = s.attempts.length;
  q.retry(bad);
  await until("refused again", () => s.attempts.length === before + 1 && !!q.items[0]?.failed);
  q.remove(bad);
  assert.equal(q.items.length, 0);
  assert.deepEqual(s.stored, [good]);
});

test("remove never drops a file that is still being sent", async () => {
  const s = server();
  const q = new UploadQueue(s.post, () => {});
  const id = q.add("conv", file("photo.png"));
  q.remove(id);
  assert.equal(q.items.length, 1);
  await until("sent", () => q.items.length === 0);
  assert.deepEqual(s.stored, [id]);
});
