package verticles.images;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import verticles.common.Failure;
import verticles.common.ServiceFailure;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the image worker learns from an image's first bytes, and what it refuses, without decoding a pixel. */
class ImageHeaderTest {

  private static final long MAX_PIXELS = 100_000_000;

  /** Refused for good, with a message containing {@code words}. */
  private static void assertRefused(byte[] bytes, long maxPixels, String words) {
    ServiceFailure error = assertThrows(ServiceFailure.class, () -> ImageHeader.read(bytes, maxPixels));
    assertEquals(Failure.VALIDATION, Failure.of(error));
    assertTrue(error.getMessage().contains(words), error.getMessage());
  }

  @ParameterizedTest(name = "{0} {1} × {2}")
  @CsvSource({
    "png,  37, 23",
    "jpeg, 64, 48",
    "gif,  15, 91",
    "bmp,  33, 17",
    "png,   1,  1",
  })
  void theFormatAndSizeOfAnImageImageIoWroteAreRead(String format, int width, int height) {
    ImageHeader header = ImageHeader.read(TestImages.image(format, width, height), MAX_PIXELS);
    assertEquals(new ImageHeader(format, width, height), header);
    assertEquals(2L * (width + height), header.perimeter());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "lossy VP8,     37, 23",
    "lossless VP8L, 41, 19",
    "extended VP8X, 29, 31",
  })
  void webpIsReadInEachOfItsKinds(String kind, int width, int height) throws IOException {
    byte[] webp = switch (kind) {
      case "lossy VP8" -> TestImages.WEBP_LOSSY_37x23;
      case "lossless VP8L" -> TestImages.WEBP_LOSSLESS_41x19;
      default -> TestImages.WEBP_ALPHA_29x31;
    };
    // The constants are whole, real images: decoded in full, they have the sizes the header gives.
    BufferedImage decoded = ImageIO.read(new ByteArrayInputStream(webp));
    assertNotNull(decoded, kind);
    assertEquals(width, decoded.getWidth());
    assertEquals(height, decoded.getHeight());
    assertEquals(new ImageHeader("webp", width, height), ImageHeader.read(webp, MAX_PIXELS));
  }

  @Test
  void aDecompressionBombIsRefusedForItsPixelsFromItsHeaderAlone() {
    byte[] bomb = TestImages.pngHeaderOnly(100_000, 100_000);
    assertTrue(bomb.length < 64, "a few dozen bytes: " + bomb.length);
    long heapBefore = usedHeap();
    // Decoding it would take 30 GB, far beyond this JVM's heap: only the header can have been read.
    assertRefused(bomb, MAX_PIXELS, "10000000000 pixels");
    assertTrue(usedHeap() - heapBefore < 64L * 1024 * 1024, "no pixel memory was allocated");
  }

  @Test
  void theLimitIsInclusive() {
    byte[] png = TestImages.image("png", 37, 23);
    assertEquals(37 * 23, ImageHeader.read(png, 37 * 23).pixels());
    assertRefused(png, 37 * 23 - 1, "more than the 850 allowed");
  }

  @Test
  void somethingThatIsNotAnImageIsRefused() {
    assertRefused("<html><body>Not found</body></html>".getBytes(StandardCharsets.UTF_8), MAX_PIXELS, "not an image");
    assertRefused(new byte[0], MAX_PIXELS, "not an image");
  }

  @Test
  void anImageFormatPulseDoesNotTakeIsRefusedByName() {
    assertRefused(TestImages.image("tiff", 20, 10), MAX_PIXELS, "does not take: tif");
  }

  @ParameterizedTest(name = "{0} cut to {1} bytes")
  @CsvSource({
    "png,  20",
    "jpeg, 40",
    "gif,  12",
    "bmp,  20",
    "webp, 20",
  })
  void anImageCutShortInItsHeaderIsRefused(String format, int keep) {
    byte[] whole = format.equals("webp") ? TestImages.WEBP_LOSSY_37x23 : TestImages.image(format, 37, 23);
    ServiceFailure error = assertThrows(ServiceFailure.class, () -> ImageHeader.read(Arrays.copyOf(whole, keep), MAX_PIXELS));
    assertEquals(Failure.VALIDATION, Failure.of(error));
    assertTrue(error.getMessage().startsWith("not a"), error.getMessage());
  }

  @Test
  void anImageCutShortAfterItsHeaderStillGivesItsSizeBecausePixelsAreNeverDecoded() {
    byte[] png = TestImages.image("png", 300, 200);
    byte[] cut = Arrays.copyOf(png, 60);  // signature, IHDR and a little more: no image data
    assertEquals(new ImageHeader("png", 300, 200), ImageHeader.read(cut, MAX_PIXELS));
  }

  private static long usedHeap() {
    Runtime runtime = Runtime.getRuntime();
    return runtime.totalMemory() - runtime.freeMemory();
  }
}
