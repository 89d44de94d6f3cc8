/**
 * repeatable-read: 0 runs with an anomaly it prevents in 10,000 Retwis timelines (and the lww control run);
 * see level-suite.ts.
 */
import { levelSuite } from "./level-suite.js";

levelSuite(["repeatable-read"], true);
