/** notariat's version, from deno.json: shown by `-version` and `-h`, and in notariat_build_info. */
import config from "../deno.json" with { type: "json" };

/** The release version, e.g. "0.2.0". */
export const VERSION: string = config.version;
