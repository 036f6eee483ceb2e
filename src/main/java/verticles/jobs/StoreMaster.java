package verticles.jobs;

import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Retail Pulse store master CSV ({@code AreaCode,StoreName,StoreID}), read with Commons CSV:
 * quoted names with commas, LF or CRLF, with or without a final newline, columns in any order.
 * A bad row stops the whole file with the line it is on: nothing half-imported.
 */
final class StoreMaster {

  /** One store; the id is the key (names repeat). */
  record Store(String storeId, String storeName, String areaCode) {
  }

  /** A file that cannot be read as a store master, naming the line. */
  static final class BadFile extends IllegalArgumentException {
    final long line;

    BadFile(long line, String message) {
      super("line " + line + ": " + message);
      this.line = line;
    }
  }

  private static final CSVFormat FORMAT = CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true)
    .setIgnoreSurroundingSpaces(true).setIgnoreEmptyLines(true).get();

  private StoreMaster() {
  }

  static List<Store> parse(String text) {
    return parse(new StringReader(text));
  }

  /** The stores of the file, the last row winning for a repeated id. */
  static List<Store> parse(Reader reader) {
    Map<String, Store> stores = new LinkedHashMap<>();
    try (CSVParser parser = FORMAT.parse(reader)) {
      Map<String, Integer> header = parser.getHeaderMap();
      for (String column : List.of("AreaCode", "StoreName", "StoreID")) {
        if (header == null || !header.containsKey(column)) {
          throw new BadFile(1, "the header must name AreaCode, StoreName and StoreID");
        }
      }
      for (CSVRecord row : parser) {
        long line = parser.getCurrentLineNumber();
        if (!row.isConsistent()) {
          throw new BadFile(line, "expected 3 columns, found " + row.size());
        }
        String id = row.get("StoreID");
        String name = row.get("StoreName");
        String area = row.get("AreaCode");
        if (id.isBlank() || id.length() > 64 || name.isBlank() || area.isBlank()) {
          throw new BadFile(line, "StoreID, StoreName and AreaCode must be given (StoreID at most 64 characters)");
        }
        if ((id + name + area).indexOf('\0') >= 0) {
          throw new BadFile(line, "contains a NUL character");
        }
        stores.put(id, new Store(id, name, area));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (IllegalStateException | UncheckedIOException e) {
      throw new BadFile(lineOf(e), "is not well-formed CSV (" + e.getMessage() + ")");
    }
    return new ArrayList<>(stores.values());
  }

  private static long lineOf(Exception e) {
    String message = String.valueOf(e.getMessage());
    java.util.regex.Matcher number = java.util.regex.Pattern.compile("line (\\d+)").matcher(message);
    return number.find() ? Long.parseLong(number.group(1)) : 0;
  }
}
