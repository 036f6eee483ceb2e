package verticles.images;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.zip.CRC32;

/** Images of known sizes for the image tests, made here or kept as constants (nothing is fetched). */
final class TestImages {

  /** Lossy WebP (a "VP8 " chunk), 37 × 23, made with cwebp -q 50. */
  static final byte[] WEBP_LOSSY_37x23 = Base64.getDecoder().decode(
    "UklGRoQAAABXRUJQVlA4IHgAAACwBACdASolABcAPrlKnUu8pCMhtUwDkBcJaACdMvG/+DfLHRiW/0T/MXVH/z0AAP73lidQH4fIXZNi"
      + "DkHnlH077WhgyhLX6dWkd6x8lAOThXtvTOUTttFFNj4aeT21nF9N00DXkT+kzQMNhXYToVhb+P+GtieDTgA=");
  /** Lossless WebP (a "VP8L" chunk), 41 × 19, made with cwebp -lossless. */
  static final byte[] WEBP_LOSSLESS_41x19 = Base64.getDecoder().decode(
    "UklGRjYAAABXRUJQVlA4TCoAAAAvKIAEAAmASNoffIWI/qdbAAThf9xCRP/TQUhA6P6fFqU5mICYAOCsDg4=");
  /** Extended WebP with alpha ("VP8X", "ALPH", "VP8 " chunks), 29 × 31, made with cwebp -q 50. */
  static final byte[] WEBP_ALPHA_29x31 = Base64.getDecoder().decode(
    "UklGRrIAAABXRUJQVlA4WAoAAAAQAAAAHAAAHgAAQUxQSBQAAAABmQpE9D8gJCBU/1fLSsQEJJUwGVZQOCB4AAAAcAUAnQEqHQAfAD7R"
      + "YKJLqCajIbAMAQAaCWwAsRtme6cIS8YCbfRDdxqjGXkyDKOuM7CPgAD+9HxLvDZWsYPVlFnOUqNGFK9jdqNndO9k8y2+16h+VnEAR29F"
      + "1z+hnSiIMlfjOmP5SjuM0bjyR4np0f9yq+kCpgAA");

  private TestImages() {
  }

  /** A {@code width × height} picture (a gradient, so encoders have something to encode) written by ImageIO. */
  static byte[] image(String format, int width, int height) {
    BufferedImage picture = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
    for (int x = 0; x < width; x++) {
      for (int y = 0; y < height; y++) {
        picture.setRGB(x, y, (x * 7 & 0xff) << 16 | (y * 11 & 0xff) << 8 | (x + y & 0xff));
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      if (!ImageIO.write(picture, format, out)) {
        throw new IllegalStateException("no ImageIO writer for " + format);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /**
   * A decompression bomb: a valid PNG signature, an IHDR declaring {@code width × height} (8-bit
   * RGB, correct CRC) and IEND, without a single pixel. 45 bytes; decoded it would need
   * width × height × 3 bytes.
   */
  static byte[] pngHeaderOnly(int width, int height) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
      ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
      try (DataOutputStream fields = new DataOutputStream(ihdr)) {
        fields.writeInt(width);
        fields.writeInt(height);
        fields.write(new byte[] {8, 2, 0, 0, 0});  // bit depth 8, colour type 2 (RGB), deflate, adaptive, no interlace
      }
      chunk(out, "IHDR", ihdr.toByteArray());
      chunk(out, "IEND", new byte[0]);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static void chunk(DataOutputStream out, String type, byte[] data) throws IOException {
    byte[] name = type.getBytes(StandardCharsets.US_ASCII);
    CRC32 crc = new CRC32();
    crc.update(name);
    crc.update(data);
    out.writeInt(data.length);
    out.write(name);
    out.write(data);
    out.writeInt((int) crc.getValue());
  }
}
