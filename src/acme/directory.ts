/** What an ACME directory (RFC 8555 section 7.1.1) offers beyond the basics notariat always needs. */
export interface DirectoryInfo {
  /** The renewalInfo resource (RFC 9773 section 4); undefined when the CA has no ARI. */
  renewalInfo?: string;
  /**
   * The certificate profiles the CA offers (`meta.profiles`, draft-ietf-acme-profiles): name → description.
   * Undefined when the CA announces none.
   */
  profiles?: Record<string, string>;
}

/** Reads the optional parts of a directory object; anything malformed counts as not offered. */
export function readDirectoryInfo(directory: Record<string, unknown>): DirectoryInfo {
  const info: DirectoryInfo = {};
  if (typeof directory.renewalInfo === "string" && directory.renewalInfo !== "") {
    info.renewalInfo = directory.renewalInfo;
  }
  const meta = directory.meta;
  const profiles = typeof meta === "object" && meta !== null
    ? (meta as Record<string, unknown>).profiles
    : undefined;
  if (typeof profiles === "object" && profiles !== null && !Array.isArray(profiles)) {
    info.profiles = Object.fromEntries(
      Object.entries(profiles).map(([name, description]) => [name, String(description ?? "")]),
    );
  }
  return info;
}

/**
 * Why `profile` cannot be asked for at this CA, or undefined when it can: the CA must announce it in
 * `meta.profiles`.
 */
export function profileProblem(profile: string, info: DirectoryInfo): string | undefined {
  if (info.profiles === undefined) {
    return `profile ${JSON.stringify(profile)} is configured, but the CA offers no profiles`;
  }
  if (profile in info.profiles) return undefined;
  const offered = Object.keys(info.profiles).join(", ") || "none";
  return `profile ${JSON.stringify(profile)} is not offered by the CA (offered: ${offered})`;
}
