package verticles.common;

/**
 * Every event-bus address Pulse uses, one nested class per area. Addresses are
 * {@code area.verb}; task handlers are {@code task.<type>}; pushes are {@code events.*}.
 */
public final class Addresses {

  private Addresses() {
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
