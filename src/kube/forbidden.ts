/**
 * What a 403 from the API server means for the operator: which permission is missing, and the kubectl
 * commands that grant it. Pure: works on the Status message RBAC writes.
 */

/** One denied request, as the RBAC authorizer words it. */
export interface Denied {
  user: string;
  verb: string;
  resource: string;
  group: string;
  /** Absent at the cluster scope. */
  namespace?: string;
  /** The object, when the request named one. */
  name?: string;
}

const DENIED =
  /^(?:\S+ "([^"]+)" )?(?:\S+ )?is forbidden: User "([^"]+)" cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)"| at the cluster scope)/;

/** Reads RBAC's "... is forbidden: User "u" cannot VERB resource "R" in API group "G" ..." message. */
export function parseDenied(message: string): Denied | undefined {
  const match = DENIED.exec(message);
  if (match === null) return undefined;
  const [, name, user, verb, resource, group, namespace] = match;
  return { user, verb, resource, group, namespace, name };
}

const SERVICE_ACCOUNT = /^system:serviceaccount:([^:]+):([^:]+)$/;

/**
 * One sentence naming the missing permission and the commands that grant it (a Role and a RoleBinding in
 * the namespace, or their cluster-wide kinds); for Secrets also the RoleBinding of manifests/'s ClusterRole.
 */
export function grantHint(denied: Denied): string {
  const account = SERVICE_ACCOUNT.exec(denied.user);
  const subject = account === null ? `--user=${denied.user}` : `--serviceaccount=${account[1]}:${account[2]}`;
  const who = account === null ? `user ${denied.user}` : `service account ${account[1]}:${account[2]}`;
  const resource = denied.group === "" ? denied.resource : `${denied.resource}.${denied.group}`;
  // RBAC cannot limit create by name; the other verbs on a named object can be.
  const byName = denied.name !== undefined && denied.verb !== "create"
    ? ` --resource-name=${denied.name}`
    : "";
  const what = `${denied.verb} ${resource}${byName === "" ? "" : ` "${denied.name}"`}`;
  const role = `notariat-${denied.verb}-${denied.resource}`;
  if (denied.namespace === undefined) {
    return `missing permission: ${who} may not ${what} at the cluster scope; to grant it: ` +
      `kubectl create clusterrole ${role} --verb=${denied.verb} --resource=${resource}${byName} && ` +
      `kubectl create clusterrolebinding ${role} --clusterrole=${role} ${subject}`;
  }
  const ns = denied.namespace;
  const secrets = denied.resource === "secrets" && denied.group === ""
    ? ` (manifests/ grant Secrets per namespace with: kubectl -n ${ns} create rolebinding notariat-secrets ` +
      `--clusterrole=notariat-secrets ${subject})`
    : "";
  return `missing permission: ${who} may not ${what} in namespace ${ns}; to grant it: ` +
    `kubectl -n ${ns} create role ${role} --verb=${denied.verb} --resource=${resource}${byName} && ` +
    `kubectl -n ${ns} create rolebinding ${role} --role=${role} ${subject}${secrets}`;
}
