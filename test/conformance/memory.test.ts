// The conformance suite (cashews/testing, src/testing/) on mem:// with live values, serialised
// values and signed values. One file per backend family, so that families run side by side.
import { conformanceSuite } from "../../src/testing/index.js";

conformanceSuite({ name: "mem:// (live values)", url: () => "mem://" });
conformanceSuite({ name: "mem:// (serialize)", url: () => "mem://?serialize=1" });
conformanceSuite({ name: "mem:// (secret)", url: () => "mem://", options: { secret: "s3cret" } });
