package verticles.common;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;

import java.util.function.Function;

/**
 * One page of a keyset-paginated list: queries fetch {@code limit + 1} rows, and the extra one
 * only says that there is more; {@code next_cursor} is the key of the last row shown.
 */
public final class Page {

  /** Items per page when the request names no limit (the document says the same). */
  public static final int DEFAULT_LIMIT = 50;

  private Page() {
  }

  public static JsonObject of(RowSet<Row> rows, int limit, Function<Row, JsonObject> item, String cursorColumn) {
    JsonArray items = new JsonArray();
    Long last = null;
    for (Row row : rows) {
      if (items.size() == limit) {
        break;
      }
      items.add(item.apply(row));
      last = row.getLong(cursorColumn);
    }
    return new JsonObject().put("items", items).put("next_cursor", rows.size() > limit ? String.valueOf(last) : null);
  }
}
