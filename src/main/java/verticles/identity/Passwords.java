package verticles.identity;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import org.springframework.security.crypto.argon2.Argon2PasswordEncoder;

/**
 * Password hashes: argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane), computed
 * on a small worker pool of its own so hashing never blocks an event loop nor starves other
 * blocking work. Comparison is constant-time (the encoder's).
 */
final class Passwords {

  private static final Argon2PasswordEncoder ENCODER = new Argon2PasswordEncoder(16, 32, 1, 19_456, 2);

  private final WorkerExecutor executor;
  /** Verified against when the user does not exist, so a wrong username costs what a wrong password does. */
  private final String decoy;

  private Passwords(WorkerExecutor executor, String decoy) {
    this.executor = executor;
    this.decoy = decoy;
  }

  /** Hashing the decoy is the first (slow) use of the encoder: on the worker pool too. */
  static Future<Passwords> create(Vertx vertx, int threads) {
    WorkerExecutor executor = vertx.createSharedWorkerExecutor("pulse-passwords", threads);
    return executor.executeBlocking(() -> new Passwords(executor, ENCODER.encode("decoy password, never matches anything real")));
  }

  Future<String> hash(String password) {
    return executor.executeBlocking(() -> ENCODER.encode(password), false);
  }

  /** True when {@code password} matches {@code hash}; a null hash is checked against the decoy and never matches. */
  Future<Boolean> matches(String password, String hash) {
    return executor.executeBlocking(() -> ENCODER.matches(password, hash == null ? decoy : hash) && hash != null, false);
  }

  Future<Void> close() {
    return executor.close();
  }
}
