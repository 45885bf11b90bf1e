/**
 * Turning a server's answer to a signed UPDATE into a sentence a person can act on. Pure: the RCODE, the TSIG
 * verdict and the clock in, a message (or nothing when the update succeeded) out.
 */
import { serverTimeOf, type TsigVerdict } from "./tsig.ts";
import type { TsigKey } from "./types.ts";
import { Rcode, rcodeName } from "./wire.ts";

/** What is known about one UPDATE exchange. `server` is already formatted ("192.0.2.1:53"). */
export interface UpdateOutcome {
  server: string;
  zone: string;
  key: Pick<TsigKey, "name" | "algorithm">;
  rcode: number;
  verdict: TsigVerdict;
  /** Our clock, seconds since the epoch, when the answer arrived. */
  now: number;
}

function tsigErrorMessage(
  o: UpdateOutcome,
  error: number,
  serverTime: number | undefined,
  fudge: number,
): string {
  const k = `'${o.key.name}'`;
  const codes = o.rcode === Rcode.NOERROR
    ? rcodeName(error)
    : `${rcodeName(o.rcode)}, TSIG ${rcodeName(error)}`;
  switch (error) {
    case Rcode.BADSIG:
      return `server ${o.server} rejected the signature of key ${k}: the secret differs from the server's (${codes})`;
    case Rcode.BADKEY:
      return `server ${o.server} does not know key ${k} (${o.key.algorithm}) or does not allow it to update zone ` +
        `'${o.zone}' (${codes})`;
    case Rcode.BADTIME: {
      const skew = serverTime === undefined ? undefined : Math.abs(o.now - serverTime);
      return (skew === undefined
        ? "the clocks of notariat and the server differ by more than the fudge"
        : `clock skew of ${skew} s between notariat and the server`) +
        ` ${o.server} (fudge ${fudge} s, ${codes})`;
    }
    default:
      return `server ${o.server} rejected key ${k} with TSIG error ${rcodeName(error)} ` +
        `for zone '${o.zone}' (${codes})`;
  }
}

function rcodeMessage(o: UpdateOutcome): string {
  const code = rcodeName(o.rcode);
  const k = `'${o.key.name}'`;
  switch (o.rcode) {
    case Rcode.REFUSED:
      return `server ${o.server} refused to let key ${k} update TXT records in zone '${o.zone}' (${code})`;
    case Rcode.NOTAUTH:
      return `server ${o.server} is not authoritative for zone '${o.zone}' or did not accept key ${k} (${code})`;
    case Rcode.NOTZONE:
      return `a record name is outside zone '${o.zone}' according to server ${o.server} (${code})`;
    case Rcode.SERVFAIL:
      return `server ${o.server} failed to apply the update to zone '${o.zone}'; its log says why (${code})`;
    case Rcode.FORMERR:
      return `server ${o.server} could not parse the update for zone '${o.zone}' (${code})`;
    case Rcode.NOTIMP:
      return `server ${o.server} does not implement DNS UPDATE (${code})`;
    default:
      return `server ${o.server} rejected the update of zone '${o.zone}' with ${code}`;
  }
}

/**
 * The reason an UPDATE failed, or undefined when it succeeded. TSIG errors come first because servers pair them
 * with a generic NOTAUTH; a NOERROR answer counts only when its signature verifies, since an unsigned or forged
 * answer proves nothing.
 */
export function diagnoseUpdate(o: UpdateOutcome): string | undefined {
  const v = o.verdict;
  if (!v.ok && v.reason === "tsig-error" && v.tsig) {
    return tsigErrorMessage(o, v.tsig.error, serverTimeOf(v.tsig), v.tsig.fudge);
  }
  if (o.rcode !== Rcode.NOERROR) return rcodeMessage(o);
  if (v.ok) return undefined;
  const answer = `server ${o.server} answered the update of zone '${o.zone}' with NOERROR`;
  switch (v.reason) {
    case "unsigned":
      return `${answer} but without a TSIG signature, so the answer cannot be trusted`;
    case "bad-mac":
      return `${answer} but its TSIG signature does not verify with key '${o.key.name}'`;
    case "wrong-key":
      return `${answer} but signed it with another key (${v.detail})`;
    case "bad-time":
      return `clock skew of ${Math.abs(o.now - (v.tsig?.timeSigned ?? o.now))} s between notariat and the ` +
        `server ${o.server} (fudge ${v.tsig?.fudge ?? 0} s)`;
    default:
      return `${answer} but the answer is malformed (${v.detail})`;
  }
}
