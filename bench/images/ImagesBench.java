import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * bench/images.sh's two helpers, run with the jar on the class path:
 *
 *   java -cp pulse.jar bench/images/ImagesBench.java serve DIR PORT
 *     writes real JPEGs of a few sizes (noise, 100-800 KB) into DIR if they are not there, and
 *     serves them on 127.0.0.1:PORT (a Vert.x static server, one instance per core) until killed;
 *     prints the file names and sizes, then "serving".
 *   java -cp pulse.jar bench/images/ImagesBench.java run PULSE_URL IMAGE_URL JOBS IMAGES_PER_JOB NODE_PID
 *     submits JOBS Retail Pulse jobs of IMAGES_PER_JOB images each (the served files, cycled) through
 *     POST /api/submit/, all at once, polls /api/status until every job is done, sampling the node's
 *     RSS; prints one JSON line: images, seconds, images_per_s, jobs failed, peak RSS MiB.
 */
public class ImagesBench {

  /** width, height, JPEG quality: noise JPEGs of about 120, 300, 450 and 750 KB. */
  private static final int[][] SIZES = {{400, 300, 90}, {640, 480, 90}, {800, 600, 85}, {1024, 768, 90}};

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "serve" -> serve(Path.of(args[1]), Integer.parseInt(args[2]));
      case "run" -> run(args[1], args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]), Long.parseLong(args[5]));
      default -> throw new IllegalArgumentException("serve DIR PORT | run PULSE_URL IMAGE_URL JOBS IMAGES_PER_JOB NODE_PID");
    }
  }

  static List<String> names() {
    List<String> names = new ArrayList<>();
    for (int[] size : SIZES) {
      names.add(size[0] + "x" + size[1] + ".jpg");
    }
    return names;
  }

  private static void serve(Path dir, int port) throws Exception {
    Files.createDirectories(dir);
    Random random = new Random(7);
    for (int[] size : SIZES) {
      Path file = dir.resolve(size[0] + "x" + size[1] + ".jpg");
      if (!Files.exists(file)) {
        BufferedImage image = new BufferedImage(size[0], size[1], BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < size[1]; y++) {
          for (int x = 0; x < size[0]; x++) {
            image.setRGB(x, y, random.nextInt(0xffffff));
          }
        }
        ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam param = writer.getDefaultWriteParam();
        param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        param.setCompressionQuality(size[2] / 100f);
        try (ImageOutputStream out = ImageIO.createImageOutputStream(file.toFile())) {
          writer.setOutput(out);
          writer.write(null, new IIOImage(image, null, null), param);
        }
        writer.dispose();
      }
      System.out.println(file.getFileName() + " " + Files.size(file) + " bytes");
    }
    Vertx vertx = Vertx.vertx();
    for (int i = 0; i < Runtime.getRuntime().availableProcessors(); i++) {
      vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(port))
        .requestHandler(request -> request.response().putHeader("Content-Type", "image/jpeg")
          .sendFile(dir.resolve(request.path().substring(1)).toString()).onFailure(e -> request.response().setStatusCode(404).end()))
        .listen().toCompletionStage().toCompletableFuture().get();
    }
    System.out.println("serving");
  }

  private static void run(String pulse, String images, int jobs, int perJob, long nodePid) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    List<String> names = names();
    List<Long> ids = new ArrayList<>();
    long began = System.nanoTime();
    for (int j = 0; j < jobs; j++) {
      JsonArray visits = new JsonArray();
      for (int v = 0; v < perJob / 50; v++) {
        JsonArray urls = new JsonArray();
        for (int i = 0; i < 50; i++) {
          urls.add(images + "/" + names.get((v * 50 + i + j) % names.size()) + "?j=" + j + "&i=" + (v * 50 + i));
        }
        visits.add(new JsonObject().put("store_id", String.format("RP%05d", v % 4944 + 1)).put("image_url", urls).put("visit_time", "bench"));
      }
      String body = new JsonObject().put("count", visits.size()).put("visits", visits).encode();
      HttpResponse<String> submitted = http.send(HttpRequest.newBuilder(URI.create(pulse + "/api/submit/"))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
      if (submitted.statusCode() != 201) {
        throw new IllegalStateException("submit: " + submitted.statusCode() + " " + submitted.body());
      }
      ids.add(new JsonObject(submitted.body()).getLong("job_id"));
    }
    long peakRss = 0;
    int failed = 0;
    List<Long> waiting = new ArrayList<>(ids);
    while (!waiting.isEmpty()) {
      peakRss = Math.max(peakRss, rssKb(nodePid));
      List<Long> still = new ArrayList<>();
      for (long id : waiting) {
        String status = new JsonObject(http.send(HttpRequest.newBuilder(URI.create(pulse + "/api/status?jobid=" + id)).build(),
          HttpResponse.BodyHandlers.ofString()).body()).getString("status");
        if ("ongoing".equals(status)) {
          still.add(id);
        } else if ("failed".equals(status)) {
          failed++;
        }
      }
      waiting = still;
      if (!waiting.isEmpty()) {
        Thread.sleep(50);
      }
    }
    double seconds = (System.nanoTime() - began) / 1e9;
    int total = jobs * perJob;
    System.out.println(new JsonObject().put("images", total).put("seconds", Math.round(seconds * 100) / 100.0)
      .put("images_per_s", Math.round(total / seconds)).put("jobs_failed", failed).put("peak_rss_mib", peakRss / 1024).encode());
  }

  private static long rssKb(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("\\D", ""));
        }
      }
    } catch (Exception e) {
      // gone
    }
    return 0;
  }
}
