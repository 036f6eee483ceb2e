package verticles.images;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import verticles.common.Role;
import verticles.common.ServiceHealth;

/**
 * Downloads images and reads their dimensions (task.image.*); owns nothing, runs on worker threads.
 * So far it answers its readiness check; its features land with their issues.
 */
public class ImageWorkerVerticle extends VerticleBase {

  @Override
  public Future<?> start() {
    return new ServiceHealth(vertx, Role.WORKER, config()).serve();
  }
}
