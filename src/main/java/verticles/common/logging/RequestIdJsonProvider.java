package verticles.common.logging;

import ch.qos.logback.classic.spi.ILoggingEvent;
import com.fasterxml.jackson.core.JsonGenerator;
import net.logstash.logback.composite.AbstractFieldJsonProvider;
import verticles.common.RequestContext;

import java.io.IOException;

/**
 * Adds {@code request_id} to JSON log lines. Log events are encoded on the thread that logs
 * them (no async appender), so the Vert.x context of that thread is the request's context.
 */
public class RequestIdJsonProvider extends AbstractFieldJsonProvider<ILoggingEvent> {

  public RequestIdJsonProvider() {
    setFieldName("request_id");
  }

  @Override
  public void writeTo(JsonGenerator generator, ILoggingEvent event) throws IOException {
    String requestId = RequestContext.requestId();
    if (requestId != null) {
      generator.writeStringField(getFieldName(), requestId);
    }
  }
}
