/**
 * When a certificate is renewed. Two sources: the CA's suggested window (ACME Renewal Information, RFC 9773)
 * when it offers one, else the lifetime rule below. Pure: the caller passes the clock.
 */

/** Where a renewal time came from: the CA's renewal information, or notariat's lifetime rule. */
export type RenewalSource = "ari" | "rule";

/** `-renew-before` default: no floor, the lifetime rule alone decides. */
export const DEFAULT_RENEW_BEFORE_MS = 0;

/** Certificates living this long or less are renewed at half their lifetime rather than with a third left. */
export const SHORT_LIFETIME_MS: number = 10 * 24 * 60 * 60 * 1000;

/**
 * When a certificate valid from `notBefore` to `notAfter` is renewed by the rule: when a third of its lifetime
 * remains (half for certificates of 10 days or less), or earlier when `renewBeforeMs` asks for more time
 * ahead of expiry; never earlier than half-way, so a short-lived certificate is not renewed again the moment
 * it is issued. A 90-day certificate: 30 days before expiry; 45 days: 15; 6 days: 3.
 */
export function renewalTime(notBefore: Date, notAfter: Date, renewBeforeMs: number): Date {
  const lifetimeMs = Math.max(0, notAfter.getTime() - notBefore.getTime());
  const ruleMs = lifetimeMs <= SHORT_LIFETIME_MS ? lifetimeMs / 2 : lifetimeMs / 3;
  const aheadMs = Math.max(ruleMs, Math.min(renewBeforeMs, lifetimeMs / 2));
  return new Date(notAfter.getTime() - aheadMs);
}

/**
 * A time inside the CA's suggested window, `random` ([0, 1)) of the way through it (RFC 9773 section 4.2:
 * clients pick uniformly within the window), so clients spread their renewals. A window that had already
 * begun when it was first seen (`seenAt`) is the CA asking for prompt renewal (after a mass revocation, or
 * a window moved into the past): then the time is `seenAt`, i.e. now.
 */
export function ariRenewalTime(window: { start: Date; end: Date }, random: number, seenAt?: Date): Date {
  if (seenAt !== undefined && seenAt.getTime() >= window.start.getTime()) return seenAt;
  const span = Math.max(0, window.end.getTime() - window.start.getTime());
  return new Date(window.start.getTime() + Math.floor(span * Math.min(Math.max(random, 0), 1)));
}

/** When a certificate is renewed, why then, and when to look again. */
export interface RenewalPlan {
  /** The renewal time. */
  at: Date;
  source: RenewalSource;
  /**
   * When the entry must be looked at again: the renewal time, or the next renewal information check when
   * that comes first (the CA may move the window).
   */
  nextLookAt: Date;
}

/** What `planRenewal` looks at. */
export interface RenewalFacts {
  notBefore: Date;
  notAfter: Date;
  renewBeforeMs: number;
  /** The CA's answer, when it has renewal information for this certificate. */
  ari?: { window: { start: Date; end: Date }; checkAt: Date; random: number; seenAt?: Date };
}

/** The renewal plan: the CA's window when there is one, else the lifetime rule. */
export function planRenewal(facts: RenewalFacts): RenewalPlan {
  if (facts.ari === undefined) {
    const at = renewalTime(facts.notBefore, facts.notAfter, facts.renewBeforeMs);
    return { at, source: "rule", nextLookAt: at };
  }
  const at = ariRenewalTime(facts.ari.window, facts.ari.random, facts.ari.seenAt);
  const nextLookAt = new Date(Math.min(at.getTime(), facts.ari.checkAt.getTime()));
  return { at, source: "ari", nextLookAt };
}
