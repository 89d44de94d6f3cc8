// The Durable Object side of the `state` benchmark, run by miniflare (workerd): a `Counter`
// object per key whose POST /add adds the request body to a stored number and answers the new
// value; GET answers the value. The worker routes /<key>/add and /<key> to the object named <key>.
// The object's input gate holds other events back only while it awaits its own storage, so the
// body is read first: awaiting it between the get and the put would let increments interleave.
/* global Response */ // workerd provides the Fetch API
export class Counter {
  constructor(state) {
    this.storage = state.storage;
  }

  async fetch(request) {
    const delta = request.method === "POST" ? Number(await request.text()) : 0;
    const n = (await this.storage.get("n")) ?? 0;
    if (delta === 0) return new Response(String(n));
    await this.storage.put("n", n + delta);
    return new Response(String(n + delta));
  }
}

export default {
  async fetch(request, env) {
    const [key] = new URL(request.url).pathname.split("/").filter((s) => s !== "");
    if (key === undefined) return new Response("no key", { status: 404 });
    return env.COUNTER.get(env.COUNTER.idFromName(key)).fetch(request);
  },
};
