package verticles.common;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A {@code .env} file: the settings it holds, as written (Config types and checks them). */
final class DotEnv {

  private DotEnv() {
  }

  /** KEY=VALUE lines; blank lines, # comments, an {@code export } prefix and quotes are allowed. */
  static Map<String, String> read(Path file) {
    Map<String, String> values = new LinkedHashMap<>();
    if (!Files.isRegularFile(file)) {
      return values;
    }
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new Config.ConfigException(file + " cannot be read: " + e.getMessage());
    }
    int number = 0;
    for (String line : lines) {
      number++;
      String text = line.strip();
      if (text.isEmpty() || text.startsWith("#")) {
        continue;
      }
      if (text.startsWith("export ")) {
        text = text.substring("export ".length()).strip();
      }
      int eq = text.indexOf('=');
      if (eq <= 0) {
        throw new Config.ConfigException(file + " line " + number + " is not KEY=VALUE");
      }
      String value = text.substring(eq + 1).strip();
      if (value.length() >= 2 && (value.startsWith("\"") && value.endsWith("\"") || value.startsWith("'") && value.endsWith("'"))) {
        value = value.substring(1, value.length() - 1);
      }
      values.put(text.substring(0, eq).strip(), value);
    }
    return values;
  }
}
