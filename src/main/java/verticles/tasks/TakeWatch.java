package verticles.tasks;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import verticles.common.RebuildableRedis;

import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Whether a dispatcher still takes work from Redis. Every take that Redis answers, empty or not,
 * is progress. A dispatcher that has tried to take (it had free slots) and has had no successful
 * take for {@link #STALL_MS} may have stopped fetching, whatever the cause (a client stuck on a
 * dead connection, on a server that is no longer the master, in a pool that lost its
 * connections): its Redis client is replaced if a fresh one gets an answer from the master while
 * the takes are still stuck (see {@link RebuildableRedis#replaceIfStuck}), and that is tried again
 * every {@link #STALL_MS} until a take succeeds; an outage, where no client gets an answer,
 * replaces nothing. The node exports the age of its dispatchers' latest successful take as
 * {@code pulse_tasks_last_take_age_seconds}.
 */
final class TakeWatch {

  static final long STALL_MS = 5_000;
  private static final Logger log = LoggerFactory.getLogger(TakeWatch.class);
  private static final long LOG_EVERY_MS = 10_000;
  private static final AtomicLong LAST_LOGGED = new AtomicLong();
  /** The live watches of each node (its registry), behind one gauge per node. */
  private static final Map<MeterRegistry, Set<TakeWatch>> NODES = new WeakHashMap<>();

  private final RebuildableRedis client;
  private final Set<TakeWatch> node;
  private volatile long lastTakeMs = System.currentTimeMillis();
  /** When the first take since the last successful one was tried; 0 while none is owed. */
  private long wantedSinceMs;
  private long lastRebuildMs;
  private int rebuilds;
  private boolean said;

  private TakeWatch(RebuildableRedis client, Set<TakeWatch> node) {
    this.client = client;
    this.node = node;
  }

  /** A dispatcher's watch over {@code client}, counted in the gauge of {@code registry} (none when null). */
  static TakeWatch register(RebuildableRedis client, MeterRegistry registry) {
    Set<TakeWatch> node;
    synchronized (NODES) {
      node = NODES.get(registry);
      if (node == null) {
        node = Collections.newSetFromMap(new ConcurrentHashMap<>());
        NODES.put(registry, node);
        if (registry != null) {
          Set<TakeWatch> watches = node;
          Gauge.builder("pulse.tasks.last.take.age", () -> ageSeconds(watches)).baseUnit("seconds")
            .description("seconds since this node's dispatchers last took from Redis successfully (an empty take counts)")
            .register(registry);
        }
      }
    }
    TakeWatch watch = new TakeWatch(client, node);
    node.add(watch);
    return watch;
  }

  void unregister() {
    node.remove(this);
  }

  void attempted() {
    if (wantedSinceMs == 0) {
      wantedSinceMs = System.currentTimeMillis();
    }
  }

  void succeeded() {
    long now = System.currentTimeMillis();
    if (said) {
      log.info("takes from Redis resumed after {} ms ({} client rebuild(s))", now - lastTakeMs, rebuilds);
    }
    lastTakeMs = now;
    wantedSinceMs = 0;
    rebuilds = 0;
    said = false;
  }

  /** Called every second (on the dispatcher's context): replaces the client when takes have stopped and it is to blame. */
  void check() {
    long now = System.currentTimeMillis();
    if (wantedSinceMs == 0 || now - lastTakeMs < STALL_MS || now - lastRebuildMs < STALL_MS) {
      return;
    }
    lastRebuildMs = now;
    long taken = lastTakeMs;
    client.replaceIfStuck("stalled", null, () -> lastTakeMs == taken).onSuccess(replaced -> {
      if (!replaced) {
        return;
      }
      rebuilds++;
      long at = System.currentTimeMillis();
      long last = LAST_LOGGED.get();
      if (rebuilds == 1 && at - last >= LOG_EVERY_MS && LAST_LOGGED.compareAndSet(last, at)) {
        said = true;
        log.warn("no successful take from Redis for {} ms although there was room for work, while a new connection gets answers: "
          + "replaced the dispatcher's Redis client", at - taken);
      }
    });
  }

  private static double ageSeconds(Set<TakeWatch> watches) {
    long latest = 0;
    for (TakeWatch watch : watches) {
      latest = Math.max(latest, watch.lastTakeMs);
    }
    return latest == 0 ? Double.NaN : (System.currentTimeMillis() - latest) / 1000.0;
  }
}
