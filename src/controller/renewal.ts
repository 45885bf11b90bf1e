/** How long before expiry a certificate is renewed unless its lifetime is short: 30 days (720h). */
export const DEFAULT_RENEW_BEFORE_MS: number = 30 * 24 * 60 * 60 * 1000;

/**
 * When a certificate valid from `notBefore` to `notAfter` should be renewed: `renewBeforeMs` ahead of expiry,
 * but never more than a third of its lifetime ahead, so a short-lived certificate is not renewed again the
 * moment it is issued. For a 90-day certificate and the default this is 30 days before expiry.
 */
export function renewalTime(notBefore: Date, notAfter: Date, renewBeforeMs: number): Date {
  const lifetimeMs = Math.max(0, notAfter.getTime() - notBefore.getTime());
  const aheadMs = Math.min(renewBeforeMs, lifetimeMs / 3);
  return new Date(notAfter.getTime() - aheadMs);
}

/** Whether a certificate is inside its renewal window at `now`. */
export function isRenewalDue(notBefore: Date, notAfter: Date, renewBeforeMs: number, now: Date): boolean {
  return now.getTime() >= renewalTime(notBefore, notAfter, renewBeforeMs).getTime();
}
