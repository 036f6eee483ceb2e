package verticles.http;

import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.StaticHandler;

/**
 * The live dashboard: {@code index.html} at {@code /} and its files under {@code /assets/}, from
 * {@code webroot} on the class path (plain HTML, CSS and JavaScript: nothing to build). The page
 * is never cached (a new release shows at the next load); its assets for five minutes.
 */
final class Dashboard {

  private static final String WEBROOT = "webroot";

  private Dashboard() {
  }

  static void mount(Router router) {
    StaticHandler page = StaticHandler.create(WEBROOT).setCachingEnabled(false).setDirectoryListing(false).setIndexPage("index.html");
    StaticHandler assets = StaticHandler.create(WEBROOT).setCachingEnabled(true).setMaxAgeSeconds(300).setDirectoryListing(false);
    router.get("/").handler(rc -> {
      rc.response().putHeader("Cache-Control", "no-cache");
      rc.next();
    }).handler(page);
    router.get("/assets/:file").handler(assets);
    router.get("/assets/vendor/:file").handler(assets);
  }
}
