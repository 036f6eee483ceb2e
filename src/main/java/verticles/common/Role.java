package verticles.common;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/** The parts a node can run, chosen with ROLES; each is one verticle (see verticles.Node). */
public enum Role {
  HTTP("http"),
  IDENTITY("identity"),
  LEDGER("ledger"),
  DISPATCH("dispatch"),
  WORKER("worker"),
  JOBS("jobs"),
  CATALOG("catalog");

  public final String id;

  Role(String id) {
    this.id = id;
  }

  /** The roles that answer requests on the bus (all but the HTTP edge). */
  public static Set<Role> services() {
    return EnumSet.complementOf(EnumSet.of(HTTP));
  }

  /** Whether this role reads or writes PostgreSQL, so its node must migrate the schema first. */
  public boolean usesDatabase() {
    return this != HTTP && this != WORKER;
  }

  /** Whether this role keeps state in Redis (rate limits, caches, the task backlog). */
  public boolean usesRedis() {
    return this == HTTP || this == LEDGER || this == DISPATCH || this == CATALOG;
  }

  /** "all" or a comma list of role ids. */
  public static Set<Role> parse(String text) {
    if (text.isBlank() || text.trim().equalsIgnoreCase("all")) {
      return EnumSet.allOf(Role.class);
    }
    Set<Role> roles = EnumSet.noneOf(Role.class);
    for (String id : Config.list(text)) {
      roles.add(byId(id.toLowerCase(Locale.ROOT)));
    }
    return roles;
  }

  private static Role byId(String id) {
    for (Role role : values()) {
      if (role.id.equals(id)) {
        return role;
      }
    }
    throw new IllegalArgumentException("'all' or a comma list of http, identity, ledger, dispatch, worker, jobs, catalog");
  }
}
