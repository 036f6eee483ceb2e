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
    /** Who a token's subject is now: role, status and token version, checked on every request. */
    public static final String PRINCIPAL = "identity.principal";
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
