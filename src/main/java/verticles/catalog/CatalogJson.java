package verticles.catalog;

import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;

import java.time.OffsetDateTime;

/** Rows of products and orders as the JSON the API shows (and the cache keeps). */
final class CatalogJson {

  private CatalogJson() {
  }

  static JsonObject product(Row row) {
    return new JsonObject()
      .put("id", row.getLong("id"))
      .put("sku", row.getString("sku"))
      .put("name", row.getString("name"))
      .put("description", row.getString("description"))
      .put("price", row.getLong("price"))
      .put("currency", row.getString("currency").trim())
      .put("stock", row.getInteger("stock"))
      .put("merchant_id", row.getLong("merchant_id"))
      .put("image_url", row.getString("image_url"))
      .put("image_status", row.getString("image_status"))
      .put("image_width", row.getInteger("image_width"))
      .put("image_height", row.getInteger("image_height"))
      .put("image_perimeter", row.getLong("image_perimeter"))
      .put("image_error", row.getString("image_error"))
      .put("version", row.getInteger("version"))
      .put("created_at", time(row.getOffsetDateTime("created_at")))
      .put("updated_at", time(row.getOffsetDateTime("updated_at")))
      .put("deleted_at", time(row.getOffsetDateTime("deleted_at")));
  }

  static JsonObject order(Row row) {
    String currency = row.getString("currency");
    return new JsonObject()
      .put("id", row.getLong("id"))
      .put("buyer_id", row.getLong("buyer_id"))
      .put("product_id", row.getLong("product_id"))
      .put("merchant_id", row.getLong("merchant_id"))
      .put("quantity", row.getInteger("quantity"))
      .put("amount", row.getLong("amount"))
      .put("currency", currency == null ? null : currency.trim())
      .put("status", row.getString("status"))
      .put("reason", row.getString("reason"))
      .put("transaction_id", row.getLong("transaction_id"))
      .put("refund_transaction_id", row.getLong("refund_transaction_id"))
      .put("created_at", time(row.getOffsetDateTime("created_at")))
      .put("updated_at", time(row.getOffsetDateTime("updated_at")));
  }

  private static String time(OffsetDateTime time) {
    return time == null ? null : time.toString();
  }
}
