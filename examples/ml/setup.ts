/**
 * Saves the example models to a running cluster and tries them:
 *
 *   npm start                                          # another terminal: a local cluster
 *   npm run stratus -- deploy examples/ml/functions.ts
 *   npx tsx examples/ml/setup.ts                       # uses the address `stratus up` saved
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { Stratus } from "../../src/index.js";
import {
  carClassifier,
  cnnBig,
  cnnSmall,
  detector,
  lid176,
  mlp,
  personClassifier,
  saveModel,
  syntheticImage,
  translator,
} from "../../src/ml/index.js";

const saved = JSON.parse(
  readFileSync(
    join(process.env.STRATUS_HOME ?? join(homedir(), ".stratus"), "cluster.json"),
    "utf8",
  ),
) as { url: string; token: string };
const cloud = await Stratus.connect(saved.url, { token: saved.token });
const models = {
  "cnn-small": cnnSmall(),
  "cnn-big": cnnBig(),
  detector: detector(),
  person: personClassifier(),
  car: carClassifier(),
  translator: translator(),
  mlp: mlp(),
  lid: lid176(),
};
for (const [name, built] of Object.entries(models)) {
  const m = await saveModel(cloud, name, built);
  console.log(`saved ${name}@${m.version} (${m.size} bytes)`);
}
console.log("classify:", await cloud.call("classify", [syntheticImage(1)]));
console.log("detectLanguage:", await cloud.call("detectLanguage", ["Bonjour tout le monde"]));
await cloud.close();
