/**
 * The watch wire format, as pure functions: the API server streams one JSON object per line,
 * `{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": {...}}`; for ERROR the object is a
 * Status (410 Gone: the resume version is too old, list again).
 */

/** The metadata of an object as a metadata-only (PartialObjectMetadata) list or watch carries it. */
export interface MetadataItem {
  name: string;
  resourceVersion: string;
  labels: Record<string, string>;
}

/** One decoded watch event. */
export type WatchEvent =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; item: MetadataItem }
  | { type: "BOOKMARK"; resourceVersion: string }
  | { type: "ERROR"; code: number; message: string };

/** Decodes one line of a watch stream; undefined for a blank line or one that is not a watch event. */
export function decodeWatchEvent(line: string): WatchEvent | undefined {
  if (line.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== "object") return undefined;
  const event = parsed as { type?: unknown; object?: Record<string, unknown> | null };
  const object = event.object ?? {};
  switch (event.type) {
    case "ADDED":
    case "MODIFIED":
    case "DELETED": {
      const item = metadataItem(object);
      return item && { type: event.type, item };
    }
    case "BOOKMARK":
      return { type: "BOOKMARK", resourceVersion: metadataOf(object).resourceVersion ?? "" };
    case "ERROR":
      return {
        type: "ERROR",
        code: typeof object.code === "number" ? object.code : 0,
        message: typeof object.message === "string" ? object.message : "unknown watch error",
      };
    default:
      return undefined;
  }
}

/** The name, version and labels of a (partial) object; undefined when it has no name. */
export function metadataItem(object: Record<string, unknown>): MetadataItem | undefined {
  const meta = metadataOf(object);
  if (typeof meta.name !== "string" || meta.name === "") return undefined;
  return {
    name: meta.name,
    resourceVersion: typeof meta.resourceVersion === "string" ? meta.resourceVersion : "",
    labels: { ...(meta.labels ?? {}) },
  };
}

function metadataOf(object: Record<string, unknown>): {
  name?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
} {
  const meta = object.metadata;
  return meta !== null && typeof meta === "object" ? meta : {};
}

/**
 * Splits a byte stream into lines across chunk boundaries: feed each chunk, get the complete lines; the
 * incomplete tail waits for the next chunk.
 */
export function lineSplitter(): (chunk: Uint8Array) => string[] {
  const decoder = new TextDecoder();
  let pending = "";
  return (chunk) => {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    return lines;
  };
}
