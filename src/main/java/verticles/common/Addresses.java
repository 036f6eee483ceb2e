package verticles.common;

/**
 * Every event-bus address Pulse uses, one nested class per area. Addresses are
 * {@code area.verb}; task handlers are {@code task.<type>}; pushes are {@code events.*}.
 */
public final class Addresses {

  private Addresses() {
  }

  /** IdentityVerticle: users, passwords, tokens. */
  public static final class Identity {
    private Identity() {
    }

    public static final String REGISTER = "identity.register";
    public static final String LOGIN = "identity.login";
    public static final String GET = "identity.get";
    public static final String LIST = "identity.list";
    public static final String UPDATE = "identity.update";
    public static final String DELETE = "identity.delete";
    /** Whether a user exists and is active (other services ask before involving a user). */
    public static final String STATUS = "identity.status";
    /** Who a token's subject is now: role, status and token version, checked on every request. */
    public static final String PRINCIPAL = "identity.principal";
    /** Many users at once ({ids}): role, status and token version of each that exists (see common.UserLookups). */
    public static final String LOOKUP = "identity.lookup";
    /** Published after a user is changed or deleted (body: {user_id}): holders of their sessions look again. */
    public static final String CHANGED = "identity.changed";
  }

  /** LedgerVerticle: money. */
  public static final class Ledger {
    private Ledger() {
    }

    public static final String CREDIT = "ledger.credit";
    public static final String DEBIT = "ledger.debit";
    public static final String TRANSFER = "ledger.transfer";
    public static final String REVERSE = "ledger.reverse";
    public static final String GET = "ledger.get";
    public static final String HISTORY = "ledger.history";
    public static final String BALANCES_CURRENT = "ledger.balances.current";
    public static final String BALANCES_HISTORICAL = "ledger.balances.historical";
    public static final String BALANCES_AT_TIME = "ledger.balances.at-time";
  }

  /** TaskApiVerticle: tasks; task handlers are {@code task.<type>}; dispatchers listen to the rest. */
  public static final class Tasks {
    private Tasks() {
    }

    /** A queue has new work (body: its name): dispatchers on every node look at once. */
    public static final String WAKEUP = "tasks.wakeup";
    /** A queue's limits changed (body: its name), e.g. unpaused: dispatchers look again now. */
    public static final String LIMITS_CHANGED = "tasks.limits.changed";

    public static final String SUBMIT = "tasks.submit";
    public static final String SUBMIT_BATCH = "tasks.submit.batch";
    public static final String GET = "tasks.get";
    public static final String LIST = "tasks.list";
    public static final String CANCEL = "tasks.cancel";
    public static final String RETRY = "tasks.retry";
    /** A handler reports how far it got: {task_id, attempt, progress}. */
    public static final String PROGRESS = "tasks.progress";
    /** A task's ended attempts and its state timeline. */
    public static final String ATTEMPTS = "tasks.attempts";
    /** Dead (or failed) tasks grouped by error fingerprint. */
    public static final String DEAD_GROUPS = "tasks.dead-groups";
    /** Retry, cancel or delete every task matching a filter: a dry-run count, or a job that runs in batches. */
    public static final String BULK = "tasks.bulk";
    public static final String BULK_COUNT = "tasks.bulk.count";
    public static final String BULK_GET = "tasks.bulk.get";
    /** Running tasks per node (the lease holder), and wait/run latency per queue over recent tasks. */
    public static final String RUNNING_BY_NODE = "tasks.running.by-node";
    public static final String LATENCY = "tasks.latency";

    public static String handler(String type) {
      return "task." + type;
    }

    /** One dispatcher's own address: receiving nodes say there which task they hold. */
    public static String dispatcher(String id) {
      return "tasks.dispatcher." + id;
    }
  }

  /** Cluster membership, published by each node to its own verticles only (local delivery). */
  public static final class Cluster {
    private Cluster() {
    }

    /** A member left the cluster (body: its node id). */
    public static final String NODE_LEFT = "cluster.node.left";
  }

  /** TaskApiVerticle: recurring schedules. */
  public static final class Schedules {
    private Schedules() {
    }

    public static final String CREATE = "schedules.create";
    public static final String GET = "schedules.get";
    public static final String LIST = "schedules.list";
    public static final String UPDATE = "schedules.update";
    public static final String DELETE = "schedules.delete";
    /** Fire a schedule's task now, outside its cron. */
    public static final String RUN = "schedules.run";
  }

  /** NodesVerticle (one per node): the cluster's nodes and the task throughput of the last hour. */
  public static final class Nodes {
    private Nodes() {
    }

    public static final String LIST = "nodes.list";
    public static final String STATS = "nodes.stats";
  }

  /** TaskApiVerticle: queue limits and depths. */
  public static final class Queues {
    private Queues() {
    }

    public static final String LIST = "queues.list";
    public static final String UPDATE = "queues.update";
  }

  /** RetailJobsVerticle: Retail Pulse image jobs and the store master. */
  public static final class Jobs {
    private Jobs() {
    }

    public static final String SUBMIT = "jobs.submit";
    /** The original contract's status answer ({status, job_id, error?}). */
    public static final String STATUS = "jobs.status";
    public static final String GET = "jobs.get";
    public static final String LIST = "jobs.list";
    /** The notify address of image tasks: each image's outcome, folded into its job. */
    public static final String IMAGE_OUTCOME = "jobs.image.outcome";
    public static final String IMPORT_STORES = "stores.import";
  }

  /** CatalogVerticle: products and orders. */
  public static final class Catalog {
    private Catalog() {
    }

    public static final String CREATE = "catalog.create";
    public static final String GET = "catalog.get";
    public static final String LIST = "catalog.list";
    public static final String UPDATE = "catalog.update";
    public static final String DELETE = "catalog.delete";
    /** The notify address of product.image tasks: a measured image lands on its product. */
    public static final String IMAGE_MEASURED = "catalog.image.measured";
    public static final String ORDER = "orders.create";
    public static final String ORDER_GET = "orders.get";
    public static final String ORDER_LIST = "orders.list";
    public static final String ORDER_REFUND = "orders.refund";
  }

    /** Pushes for watchers (a publish can be missed: nothing may depend on catching one). */
  public static final class Events {
    private Events() {
    }

    public static final String ADMIN = "events.admin";

    public static String user(long userId) {
      return "events.user." + userId;
    }
  }

  /** The shared audit trail; served by IdentityVerticle (reads only: owners append their own rows). */
  public static final class Audit {
    private Audit() {
    }

    public static final String LIST = "audit.list";
  }

  /** Each service role answers its own readiness check at {@code health.<role>}. */
  public static final class Health {
    private Health() {
    }

    public static String of(Role role) {
      return "health." + role.id;
    }
  }
}
