package verticles.images;

import verticles.common.Failure;
import verticles.common.ServiceFailure;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * An image's format and size, read from its header: no pixel is decoded, so an image that
 * declares ten billion pixels costs what its first bytes cost. Blocking (ImageIO): call it on a
 * worker thread. The flip side: a file cut short after its header still gives its size.
 */
record ImageHeader(String format, int width, int height) {

  /** ImageIO's format names (lower case) of the formats Pulse takes, and the name it gives each. */
  private static final Map<String, String> FORMATS = Map.of(
    "jpeg", "jpeg", "jpg", "jpeg", "png", "png", "gif", "gif", "bmp", "bmp", "webp", "webp");
  private static final String TAKEN = "JPEG, PNG, GIF, BMP or WebP";

  long pixels() {
    return (long) width * height;
  }

  long perimeter() {
    return 2L * ((long) width + height);
  }

  /**
   * Reads {@code bytes}' header. Fails with a VALIDATION {@link Failure} when they are not an
   * image, not one Pulse takes, unreadable (truncated, corrupt), or more than {@code maxPixels}
   * pixels.
   */
  static ImageHeader read(byte[] bytes, long maxPixels) {
    // In memory: ImageIO.createImageInputStream would spool a stream to a temporary file.
    try (ImageInputStream stream = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
      Iterator<ImageReader> readers = ImageIO.getImageReaders(stream);
      String other = null;
      while (readers.hasNext()) {
        ImageReader reader = readers.next();
        String name = reader.getFormatName().toLowerCase(Locale.ROOT);
        String format = FORMATS.get(name);
        if (format == null) {
          other = name;
          reader.dispose();
          continue;
        }
        try {
          reader.setInput(stream, true, true);
          int width = reader.getWidth(0);
          int height = reader.getHeight(0);
          if (width <= 0 || height <= 0) {
            throw Failure.VALIDATION.exception("not a readable " + format + " image: it says it is " + width + " × " + height);
          }
          ImageHeader header = new ImageHeader(format, width, height);
          if (header.pixels() > maxPixels) {
            throw Failure.VALIDATION.exception("the image has " + header.pixels() + " pixels (" + width + " × " + height
              + "), more than the " + maxPixels + " allowed");
          }
          return header;
        } catch (ServiceFailure refused) {
          throw refused;
        } catch (IOException | RuntimeException e) {
          // Readers throw more than IIOException on malformed input (index and argument errors).
          throw Failure.VALIDATION.exception("not a readable " + format + " image: " + e.getMessage());
        } finally {
          reader.dispose();
        }
      }
      throw Failure.VALIDATION.exception(other == null
        ? "not an image (Pulse reads " + TAKEN + ")"
        : "an image format Pulse does not take: " + other + " (it reads " + TAKEN + ")");
    } catch (IOException e) {
      throw Failure.VALIDATION.exception("not a readable image: " + e.getMessage());
    }
  }
}
