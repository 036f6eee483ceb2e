package verticles.common;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.MessageCodec;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;

import java.nio.charset.StandardCharsets;

/**
 * A service's coded failure (see {@link Failure}) with structured details, e.g. the field errors
 * of a validation failure, carried as JSON data across the (clustered) bus by its own codec
 * instead of being encoded into the message text.
 */
public final class ServiceFailure extends ReplyException {

  private final JsonObject details;

  ServiceFailure(int code, String message, JsonObject details) {
    super(ReplyFailure.RECIPIENT_FAILURE, code, message, true);
    this.details = details;
  }

  /** Details for the client (e.g. {@code errors}); null when there are none. */
  public JsonObject details() {
    return details;
  }

  /** Every node registers this once, so the details survive the trip between nodes. */
  public static void registerCodec(EventBus bus) {
    bus.registerDefaultCodec(ServiceFailure.class, new Codec());
  }

  private static final class Codec implements MessageCodec<ServiceFailure, ServiceFailure> {

    @Override
    public void encodeToWire(Buffer buffer, ServiceFailure failure) {
      buffer.appendInt(failure.failureCode());
      writeText(buffer, failure.getMessage());
      writeText(buffer, failure.details == null ? null : failure.details.encode());
    }

    @Override
    public ServiceFailure decodeFromWire(int position, Buffer buffer) {
      int code = buffer.getInt(position);
      int at = position + 4;
      String message = readText(buffer, at);
      at += 4 + Math.max(0, buffer.getInt(at));
      String details = readText(buffer, at);
      return new ServiceFailure(code, message, details == null ? null : new JsonObject(details));
    }

    @Override
    public ServiceFailure transform(ServiceFailure failure) {
      return failure;
    }

    @Override
    public String name() {
      return "pulse.service-failure";
    }

    @Override
    public byte systemCodecID() {
      return -1;
    }

    private static void writeText(Buffer buffer, String text) {
      if (text == null) {
        buffer.appendInt(-1);
        return;
      }
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      buffer.appendInt(bytes.length).appendBytes(bytes);
    }

    private static String readText(Buffer buffer, int at) {
      int length = buffer.getInt(at);
      return length < 0 ? null : buffer.getString(at + 4, at + 4 + length, "UTF-8");
    }
  }
}
