import { request } from "node:http";
import type { Agent } from "node:http";

/** One POST of `x` to the composition benchmark's node:http server; resolves with its answer. */
export function httpCall(agent: Agent, port: number, x: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/", agent }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve(Number(body)));
    });
    req.on("error", reject);
    req.end(String(x));
  });
}
