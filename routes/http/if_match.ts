/**
 * The `If-Match` request header (RFC 9110, section 13.1.1) as order
 * versions: our ETags are `"<version>"`.
 */
import { DomainError } from "../../domain/errors.ts";

const ENTITY_TAG = /^(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"$/;
const VERSION = /^[1-9][0-9]{0,15}$/;

/**
 * The order versions an `If-Match` header accepts: undefined when there is
 * no header or it is `*` (any current version), else the versions of its
 * strong entity tags. Weak tags and tags that are no version never match
 * (If-Match uses the strong comparison), so they leave the list empty and
 * the request fails with 412. A header that is not a list of entity tags is
 * a bad request.
 */
export function parseIfMatch(
  header: string | undefined,
): number[] | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === "*") return undefined;
  const versions: number[] = [];
  const tags = value.split(",").map((tag) => tag.trim()).filter((tag) =>
    tag !== ""
  );
  if (tags.length === 0) throw invalidIfMatch();
  for (const tag of tags) {
    const match = ENTITY_TAG.exec(tag);
    if (!match) throw invalidIfMatch();
    const [, weak, opaque = ""] = match;
    if (weak === undefined && VERSION.test(opaque)) {
      versions.push(Number(opaque));
    }
  }
  return versions;
}

function invalidIfMatch(): DomainError {
  return new DomainError("bad_request", "The If-Match header is not valid", [
    {
      path: "If-Match",
      message: 'Must be an entity tag from the ETag header, such as "3"',
    },
  ]);
}
