/**
 * causal: 0 runs with an anomaly it prevents in 10,000 Retwis timelines;
 * see level-suite.ts.
 */
import { levelSuite } from "./level-suite.js";

levelSuite(["causal"], false);
