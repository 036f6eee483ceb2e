package verticles.ledger;

/** What to move: the parties (0 is the outside world), the amount, and why. */
record Move(Kind kind, String type, long from, long to, long amount, String currency, String description, Long reverses) {

  enum Kind { CREDIT, DEBIT, TRANSFER }

  Move reversed(long original) {
    Kind back = switch (kind) {
      case CREDIT -> Kind.DEBIT;
      case DEBIT -> Kind.CREDIT;
      case TRANSFER -> Kind.TRANSFER;
    };
    return new Move(back, "reversal", to, from, amount, currency, "reversal of transaction " + original, original);
  }
}
