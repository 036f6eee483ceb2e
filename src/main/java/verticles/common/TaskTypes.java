package verticles.common;

import java.util.Set;

/**
 * The task types Pulse runs; each is one handler consuming {@code task.<type>} on the bus.
 * To add one: write a verticle that consumes {@code Addresses.Tasks.handler("my.type")} and
 * replies (or fails with a {@link Failure}: retryable ones are retried), deploy it with a role,
 * and add its name here.
 */
public final class TaskTypes {

  public static final String NOOP = "noop";
  public static final String HTTP_REQUEST = "http.request";
  public static final String LEDGER_TRANSFER = "ledger.transfer";
  /** A Retail Pulse image: fetched, its dimensions read from its header (images.ImageWorkerVerticle). */
  public static final String IMAGE_PERIMETER = "image.perimeter";
  /** A product's image, measured by the same workers. */
  public static final String PRODUCT_IMAGE = "product.image";

  public static final Set<String> KNOWN = Set.of(NOOP, HTTP_REQUEST, LEDGER_TRANSFER, IMAGE_PERIMETER, PRODUCT_IMAGE);

  private TaskTypes() {
  }
}
