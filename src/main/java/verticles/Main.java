package verticles;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import verticles.common.Config;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Starts one Pulse node from the environment and stops it cleanly on SIGTERM or SIGINT
 * (exit 0). A bad setting stops the start with one line naming it, and exit code 2.
 */
public final class Main {

  private Main() {
  }

  public static void main(String[] args) throws InterruptedException {
    Config config;
    try {
      config = Config.load(System.getenv(), Path.of(".env"));
    } catch (Config.ConfigException e) {
      System.err.println("pulse: configuration error: " + e.getMessage());
      System.exit(2);
      return;
    }
    // Before the first logger exists: logback.xml reads these.
    System.setProperty("LOG_FORMAT", config.string(Config.LOG_FORMAT));
    System.setProperty("LOG_LEVEL", config.string(Config.LOG_LEVEL));
    System.setProperty("vertx.logger-delegate-factory-class-name", "io.vertx.core.logging.SLF4JLogDelegateFactory");
    System.setProperty("hazelcast.logging.type", "slf4j");
    Logger log = LoggerFactory.getLogger(Main.class);

    // A node answers on the bus as each role comes up, so a stop can be asked for before start()
    // is done: it is kept, and acted on once the node has started (the JVM's default would exit
    // at once, leaving the embedded servers behind). One handler for the whole life of the process:
    // it notes the request, then runs the stop if there is one yet; main() sets the stop, then looks
    // for a request. Each writes before it reads, so a signal that races the end of start() is seen
    // by at least one side (the handler runs on a thread of its own, maybe after main() looked).
    AtomicBoolean stopAsked = new AtomicBoolean();
    AtomicReference<Runnable> stopper = new AtomicReference<>();
    Signal.handle(new Signal("TERM"), signal -> stopWhenStarted(stopAsked, stopper));
    Signal.handle(new Signal("INT"), signal -> stopWhenStarted(stopAsked, stopper));

    Node node;
    try {
      node = Node.start(config).toCompletionStage().toCompletableFuture().join();
    } catch (RuntimeException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      if (cause instanceof Config.ConfigException) {
        // Found while starting (an embedded server's port is in use): one line and exit 2 all the same.
        System.err.println("pulse: configuration error: " + cause.getMessage());
        System.exit(2);
        return;
      }
      log.error("Pulse could not start: {}", cause.toString(), cause);
      System.exit(1);
      return;
    }

    CountDownLatch stopped = new CountDownLatch(1);
    AtomicBoolean stopping = new AtomicBoolean();
    long patienceMs = config.integer(Config.SHUTDOWN_GRACE_MS) + 4_000L;
    Runnable stop = () -> {
      if (stopping.compareAndSet(false, true)) {
        log.info("stopping: finishing in-flight requests, undeploying, leaving the cluster");
        node.stop().onComplete(ignored -> stopped.countDown());
        forceAfter(patienceMs, node, log);
      }
    };
    stopper.set(stop);
    if (stopAsked.get()) {
      stop.run();
    }
    // Any other exit (System.exit elsewhere, an error): still stop the embedded servers.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      stop.run();
      awaitQuietly(stopped);
    }, "pulse-shutdown"));

    stopped.await();
    log.info("stopped");
    System.exit(0);
  }

  private static void stopWhenStarted(AtomicBoolean stopAsked, AtomicReference<Runnable> stopper) {
    stopAsked.set(true);
    Runnable stop = stopper.get();
    if (stop != null) {
      stop.run();
    }
  }

  /** A stop that hangs (a stuck close somewhere) must not keep the process, or its servers, alive. */
  private static void forceAfter(long patienceMs, Node node, Logger log) {
    Thread guard = new Thread(() -> {
      try {
        Thread.sleep(patienceMs);
      } catch (InterruptedException e) {
        return;
      }
      log.error("stopping took more than {} ms; stopping the embedded servers and exiting", patienceMs);
      if (node.embedded() != null) {
        // Bounded too: a server that will not stop (Redis refuses to exit when its final save
        // fails) is left to the watchdog process, which kills it once this JVM is gone.
        Thread closer = new Thread(node.embedded()::close, "pulse-shutdown-close");
        closer.setDaemon(true);
        closer.start();
        try {
          closer.join(5000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      Runtime.getRuntime().halt(1);
    }, "pulse-shutdown-guard");
    guard.setDaemon(true);
    guard.start();
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(15, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
