package verticles.common.logging;

import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import verticles.common.RequestContext;

/** {@code %requestId} in text log patterns: the request being handled on the logging thread, or "-". */
public class RequestIdConverter extends ClassicConverter {
  @Override
  public String convert(ILoggingEvent event) {
    String requestId = RequestContext.requestId();
    return requestId == null ? "-" : requestId;
  }
}
