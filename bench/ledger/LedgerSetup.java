import io.vertx.core.json.JsonObject;

import java.io.IOException;
import java.lang.reflect.Field;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The helper of bench/ledger.sh. Run with the Pulse jar on the class path (source-launch mode, Java 17):
 *
 * <pre>
 *   java -cp target/pulse.jar bench/ledger/LedgerSetup.java accounts --url http://127.0.0.1:8080
 *        --admin-user bench --admin-password bench-password-1 --out accounts.lua
 *        [--accounts 1000] [--concurrency 8] [--credit 1000000000]
 * </pre>
 *
 * <p>{@code accounts}: registers N users, logs each in and credits each (admin token) with a
 * large amount, {@code --concurrency} at a time (registration and login are argon2id hashes: the
 * slow part). Writes a Lua table {@code return {ids = {...}, tokens = {...}}} for wrk, and prints
 * {@code ids MIN MAX COUNT} on stdout. Exit 1 when anything answered other than expected.
 */
public class LedgerSetup {

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      usage();
    }
    switch (args[0]) {
      case "accounts":
        System.exit(accounts(options(args)));
        break;
      default:
        usage();
    }
  }

  static void usage() {
    System.err.println("usage: LedgerSetup.java accounts --url URL --admin-user U --admin-password P"
      + " --out FILE [--accounts 1000] [--concurrency 8] [--credit 1000000000]");
    System.exit(64);
  }

  static Map<String, String> options(String[] args) {
    Map<String, String> options = new LinkedHashMap<>();
    for (int i = 1; i < args.length; i += 2) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        usage();
      }
      options.put(args[i].substring(2), args[i + 1]);
    }
    return options;
  }

  // ---------------------------------------------------------------- the accounts

  static int accounts(Map<String, String> options) throws Exception {
    String url = required(options, "url");
    Path out = Path.of(required(options, "out"));
    int count = Integer.parseInt(options.getOrDefault("accounts", "1000"));
    int concurrency = Integer.parseInt(options.getOrDefault("concurrency", "8"));
    long credit = Long.parseLong(options.getOrDefault("credit", "1000000000"));

    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
    long started = System.nanoTime();

    JsonObject adminLogin = call(client, url + "/api/v1/auth/login", null, new JsonObject()
      .put("username", required(options, "admin-user")).put("password", required(options, "admin-password")), 200);
    String admin = adminLogin.getString("access_token");

    String run = Long.toHexString(ThreadLocalRandom.current().nextLong(0x100000, 0xffffff));
    ExecutorService pool = Executors.newFixedThreadPool(concurrency);
    List<Future<String[]>> work = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String username = "ledger_" + run + "_" + i;
      String password = "pw-" + run + "-" + i + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
      work.add(pool.submit(() -> {
        JsonObject user = call(client, url + "/api/v1/auth/register", null, new JsonObject()
          .put("username", username).put("email", username + "@example.com").put("password", password), 201);
        long id = user.getLong("id");
        String token = call(client, url + "/api/v1/auth/login", null,
          new JsonObject().put("username", username).put("password", password), 200).getString("access_token");
        call(client, url + "/api/v1/transactions/credit", admin,
          new JsonObject().put("amount", credit).put("user_id", id), 201);
        return new String[] {String.valueOf(id), token};
      }));
    }
    List<String[]> accounts = new ArrayList<>();
    try {
      for (int i = 0; i < count; i++) {
        accounts.add(work.get(i).get());
        if ((i + 1) % 250 == 0) {
          System.err.printf("LedgerSetup: %d/%d accounts ready (%.0f s)%n", i + 1, count, (System.nanoTime() - started) / 1e9);
        }
      }
    } catch (java.util.concurrent.ExecutionException e) {
      System.err.println("LedgerSetup: SET-UP FAILED: " + e.getCause().getMessage());
      pool.shutdownNow();
      return 1;
    }
    pool.shutdown();

    accounts.sort((a, b) -> Long.compare(Long.parseLong(a[0]), Long.parseLong(b[0])));
    StringBuilder lua = new StringBuilder("-- accounts for bench/ledger/transfer.lua, made by LedgerSetup.java\nreturn {\nids = {");
    for (String[] account : accounts) {
      lua.append(account[0]).append(',');
    }
    lua.append("},\ntokens = {\n");
    for (String[] account : accounts) {
      lua.append('"').append(account[1]).append("\",\n");
    }
    lua.append("},\n}\n");
    Files.writeString(out, lua.toString(), StandardCharsets.UTF_8);
    System.err.printf("LedgerSetup: %d accounts registered, logged in and credited with %d in %.0f s%n",
      count, credit, (System.nanoTime() - started) / 1e9);
    System.out.println("ids " + accounts.get(0)[0] + " " + accounts.get(accounts.size() - 1)[0] + " " + accounts.size());
    return 0;
  }

  static String required(Map<String, String> options, String name) {
    String value = options.get(name);
    if (value == null) {
      usage();
    }
    return value;
  }

  /** POSTs JSON; the answer's JSON when the status is the expected one, else an exception saying what came back. */
  static JsonObject call(HttpClient client, String uri, String token, JsonObject body, int expected)
    throws IOException, InterruptedException {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(30))
      .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.encode()));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    HttpResponse<String> response = client.send(request.build(), HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != expected) {
      throw new IOException("POST " + uri + " answered " + response.statusCode() + " (expected " + expected + "): "
        + response.body());
    }
    return new JsonObject(response.body());
  }
}
