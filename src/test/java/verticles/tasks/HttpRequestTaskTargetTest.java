package verticles.tasks;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import verticles.common.SafeFetch;

import java.net.URI;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The request target a webhook (or any {@link SafeFetch}) sends: the URL's path and query as written, never its fragment. */
class HttpRequestTaskTargetTest {

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', value = {
    "http://127.0.0.1:8080/hook?token=abc&x=1 | /hook?token=abc&x=1",
    "http://hooks.example?q=1                 | /?q=1",
    "http://hooks.example/?q=1                | /?q=1",
    "http://hooks.example                     | /",
    "https://hooks.example/                   | /",
    "http://hooks.example/a%20b/c?x=%26&y=%2F  | /a%20b/c?x=%26&y=%2F",
    "http://hooks.example/p?                  | /p?",
    "http://hooks.example/p#fragment          | /p",
    "http://hooks.example/p?q=1#fragment      | /p?q=1",
  })
  void theTargetIsThePathAndQueryAsGiven(String url, String target) {
    assertEquals(target, SafeFetch.target(URI.create(url)));
  }
}
