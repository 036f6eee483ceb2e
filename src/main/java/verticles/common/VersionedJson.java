package verticles.common;

import io.vertx.core.buffer.Buffer;

/**
 * A service's answer already encoded as a JSON object, and the version its ETag names. It crosses
 * the bus as those bytes (the version in {@link BusHeaders#VERSION}) and the edge sends them as
 * they are: a cached product is never parsed or encoded again on its way to the client.
 */
public record VersionedJson(int version, Buffer json) {
}
