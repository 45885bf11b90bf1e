/**
 * The challenge journal kept in a Secret in notariat's namespace (`<config>-challenges`): one data key per
 * publish in flight, written before its UPDATE is sent and removed once its values are deleted (the record
 * format and the sweep's decisions: src/dns/journal.ts). Each record is its own data key, written by a merge
 * patch without a version check, so concurrent issuances never conflict. The journal is per ConfigMap: values
 * of another notariat instance (another namespace or ConfigMap) are in its own journal and never touched here.
 */
import { createHash } from "node:crypto";
import { formatServer } from "../dns/address.ts";
import {
  type ChallengeJournal,
  decodeRecord,
  encodeRecord,
  type JournalRecord,
  planSweep,
} from "../dns/journal.ts";
import { createTransport } from "../dns/exchange.ts";
import type { TsigKey } from "../dns/types.ts";
import { sendTxtUpdate } from "../dns/update.ts";
import { errorMessage } from "../errors.ts";
import {
  COMPONENT_LABEL,
  isKubeStatus,
  type Kube,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
} from "../kube/types.ts";
import type { Logger } from "../observe/log.ts";
import { loadTsigKey } from "./zone_access.ts";

/** The component label of the journal Secret. */
export const JOURNAL_COMPONENT = "challenge-journal";

const SECRET_NAME_MAX = 253;

/**
 * How long a read of the journal that found nothing to sweep at some names stands for them: issuances at those
 * names meanwhile need not read it again. Records that appear in between can only be another process's
 * (this one knows its own), and are swept at the next read.
 */
export const JOURNAL_REREAD_MS = 10 * 60_000;

/**
 * Merge patches of one object, one in flight at a time: what is asked for while one is in flight goes out
 * together in the next, so concurrent issuances cost one request per round instead of one each. Each caller
 * learns the outcome of the patch that carried its keys.
 */
export function groupWrites(
  send: (data: Record<string, Uint8Array | null>) => Promise<void>,
): (data: Record<string, Uint8Array | null>) => Promise<void> {
  type Waiter = { resolve: () => void; reject: (err: unknown) => void };
  let pending: { data: Record<string, Uint8Array | null>; waiters: Waiter[] } | undefined;
  let flushing = false;
  const flush = async () => {
    flushing = true;
    while (pending !== undefined) {
      const batch = pending;
      pending = undefined;
      try {
        await send(batch.data);
        for (const waiter of batch.waiters) waiter.resolve();
      } catch (err) {
        for (const waiter of batch.waiters) waiter.reject(err);
      }
    }
    flushing = false;
  };
  return (data) =>
    new Promise<void>((resolve, reject) => {
      pending ??= { data: {}, waiters: [] };
      Object.assign(pending.data, data);
      pending.waiters.push({ resolve, reject });
      if (!flushing) flush();
    });
}

/** The journal Secret's name for the ConfigMap `config`: `<config>-challenges`, shortened with a hash if needed. */
export function journalSecretName(config: string): string {
  const name = `${config}-challenges`;
  if (name.length <= SECRET_NAME_MAX) return name;
  const hash = createHash("sha256").update(config).digest("hex").slice(0, 10);
  return `${
    config.slice(0, SECRET_NAME_MAX - "-challenges".length - 11).replace(/[.-]+$/, "")
  }-${hash}-challenges`;
}

/** What the journal needs: where it lives, how DNS deletes are sent, and where it reports. */
export interface KubeJournalOptions {
  kube: Kube;
  /** The journal Secret's name, in `kube.namespace` (see journalSecretName). */
  name: string;
  /** Timeout of one DNS exchange when deleting left-over values. */
  dnsTimeoutMs: number;
  logger: Logger;
  now?: () => Date;
}

/**
 * A ChallengeJournal in a Secret. Records of publishes in flight in this process are never swept; everything
 * else in the journal is a leftover: of a process that died, or of a removal that failed.
 */
export function createKubeChallengeJournal(options: KubeJournalOptions): ChallengeJournal {
  const { kube, name, logger } = options;
  const namespace = kube.namespace;
  const now = options.now ?? (() => new Date());
  const held = new Set<string>();
  const transport = createTransport({ timeoutMs: options.dnsTimeoutMs });
  let sweeping: Promise<void> = Promise.resolve();
  /**
   * What the last read of the journal left to sweep: the names with leftovers not deleted then; absent until
   * the first read, and dropped when one of this process's removals fails (its record is a leftover now).
   */
  let lastRead: { at: number; leftoverOwners: Set<string>; failures: number } | undefined;
  /** This process's failed removals so far: a read from before the latest failure cannot know of it. */
  let failures = 0;
  const normalize = (name: string) => name.toLowerCase().replace(/\.$/, "");

  const writeNow = async (data: Record<string, Uint8Array | null>) => {
    try {
      await kube.patchSecretData(namespace, name, data);
      return;
    } catch (err) {
      if (!isKubeStatus(err, 404) || Object.values(data).every((v) => v === null)) throw err;
    }
    try {
      await kube.createSecret({
        namespace,
        name,
        type: "Opaque",
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [COMPONENT_LABEL]: JOURNAL_COMPONENT },
        annotations: {},
        data: Object.fromEntries(
          Object.entries(data).filter((e): e is [string, Uint8Array] => e[1] !== null),
        ),
      });
    } catch (err) {
      // Created meanwhile by a concurrent first record: add to it.
      if (!isKubeStatus(err, 409)) throw err;
      await kube.patchSecretData(namespace, name, data);
    }
  };

  const write = groupWrites(writeNow);

  const forget = async (ids: string[]) => {
    if (ids.length === 0) return;
    await write(Object.fromEntries(ids.map((id) => [id, null])));
  };

  /** Whether the last read says there is nothing to sweep at `owners`; a sweep of every name always reads. */
  const knownClean = (owners?: readonly string[]) => {
    if (owners === undefined || lastRead === undefined || lastRead.failures !== failures) return false;
    if (now().getTime() - lastRead.at > JOURNAL_REREAD_MS) return false;
    return owners.every((owner) => !lastRead!.leftoverOwners.has(normalize(owner)));
  };

  const sweepOnce = async (owners?: readonly string[]) => {
    if (knownClean(owners)) return;
    const readAt = now().getTime();
    const failuresAtRead = failures;
    const secret = await kube.readSecret(namespace, name);
    if (secret === undefined) {
      lastRead = { at: readAt, leftoverOwners: new Set(), failures: failuresAtRead };
      return;
    }
    const records: JournalRecord[] = [];
    for (const [id, bytes] of Object.entries(secret.data)) {
      const record = decodeRecord(id, new TextDecoder().decode(bytes));
      if (record === undefined) {
        logger.warn("challenge journal record is damaged; left as it is", {
          journal: `${namespace}/${name}`,
          id,
        });
      } else records.push(record);
    }
    const plan = planSweep(records, held, owners);
    const leftoverOwners = (ids: Set<string>) =>
      new Set(
        records.filter((r) => !held.has(r.id) && !ids.has(r.id)).flatMap((r) =>
          r.values.map((v) => normalize(v.owner))
        ),
      );
    if (plan.batches.length === 0 && plan.forgetNow.length === 0) {
      lastRead = { at: readAt, leftoverOwners: leftoverOwners(new Set()), failures: failuresAtRead };
      return;
    }
    const keys = new Map<string, Promise<TsigKey>>();
    const keyOf = (ref: string) => {
      if (!keys.has(ref)) {
        const [keyNamespace, keyName] = ref.split("/");
        keys.set(ref, loadTsigKey(kube, { namespace: keyNamespace, name: keyName }));
      }
      return keys.get(ref)!;
    };
    const failed = new Set<string>();
    const done = new Set(plan.forgetNow);
    for (const batch of plan.batches) {
      try {
        await sendTxtUpdate(
          transport,
          batch.server,
          await keyOf(batch.keySecret),
          batch.zone,
          "delete",
          batch.values,
        );
        logger.info("left-over challenge values deleted", {
          zone: batch.zone,
          server: formatServer(batch.server),
          owners: [...new Set(batch.values.map((v) => v.owner))],
          count: batch.values.length,
        });
        for (const id of batch.recordIds) done.add(id);
      } catch (err) {
        for (const id of batch.recordIds) failed.add(id);
        logger.warn("cannot delete left-over challenge values; will try again", {
          zone: batch.zone,
          server: formatServer(batch.server),
          key_secret: batch.keySecret,
          error: errorMessage(err),
        });
      }
    }
    const forgotten = [...done].filter((id) => !failed.has(id));
    await forget(forgotten);
    lastRead = { at: readAt, leftoverOwners: leftoverOwners(new Set(forgotten)), failures: failuresAtRead };
  };

  return {
    async record(keySecret, values) {
      const id = `r-${crypto.randomUUID()}`;
      held.add(id);
      try {
        const record = { id, keySecret, recordedAt: now(), values };
        await write({ [id]: new TextEncoder().encode(encodeRecord(record)) });
      } catch (err) {
        // The patch may have been applied without an answer: a record to sweep at the next read.
        failures++;
        held.delete(id);
        throw err;
      }
      return {
        async settle(removed) {
          try {
            if (removed) await forget([id]);
            else failures++;
          } catch (err) {
            failures++;
            // The values are gone; a later sweep deletes nothing and crosses the record out.
            logger.warn("cannot cross out a challenge journal record", { id, error: errorMessage(err) });
          } finally {
            held.delete(id);
          }
        },
      };
    },
    sweep(owners) {
      // One sweep at a time: two at once would send the same deletes twice.
      const run = sweeping.then(() => sweepOnce(owners)).catch((err) => {
        logger.warn("cannot sweep the challenge journal; will try again", {
          journal: `${namespace}/${name}`,
          error: errorMessage(err),
        });
      });
      sweeping = run;
      return run;
    },
  };
}
