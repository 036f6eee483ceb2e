package verticles.jobs;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StoreMasterTest {

  private static Map<String, StoreMaster.Store> byId(List<StoreMaster.Store> stores) {
    return stores.stream().collect(Collectors.toMap(StoreMaster.Store::storeId, Function.identity()));
  }

  @Test
  void bothShippedGenerationsLoadWholeWithTheirQuotedCommas() throws Exception {
    String current = Files.readString(Path.of("conf/stores.csv"));
    String legacy = Files.readString(Path.of("conf/stores-legacy.csv"));
    assertTrue(current.contains("\r\n") && !current.endsWith("\n"), "the current file has CRLF and no final newline");
    Map<String, StoreMaster.Store> now = byId(StoreMaster.parse(current));
    Map<String, StoreMaster.Store> before = byId(StoreMaster.parse(legacy));
    assertEquals(4944, now.size());
    assertEquals(4944, before.size());
    assertEquals(new StoreMaster.Store("RP00893", "A.A ENTP,", "7000129"), now.get("RP00893"), "a quoted name with a comma");
    assertEquals(345, now.values().stream().filter(store -> store.storeName().contains(",")).count());
    assertEquals("BHARAT STORE", now.get("RP00004").storeName());
    assertEquals("BHARAT STORE", before.get("S00339218").storeName(), "the contract's own example store");
    assertTrue(before.containsKey("S01408764"));
  }

  @Test
  void lineEndingsAndTheFinalNewlineDoNotMatter() {
    String rows = "AreaCode,StoreName,StoreID\n1,\"A, B\",X1\n2,C,X2";
    assertEquals(StoreMaster.parse(rows), StoreMaster.parse(rows.replace("\n", "\r\n") + "\r\n"));
    assertEquals(2, StoreMaster.parse(rows).size());
  }

  @Test
  void columnsAreFoundByTheirNamesAndARepeatedIdKeepsTheLastRow() {
    List<StoreMaster.Store> stores = StoreMaster.parse("StoreID,AreaCode,StoreName\nX1,1,First\nX1,1,Second\n");
    assertEquals(List.of(new StoreMaster.Store("X1", "Second", "1")), stores);
  }

  @Test
  void aBadRowRefusesTheFileNamingItsLine() {
    StoreMaster.BadFile missing = assertThrows(StoreMaster.BadFile.class,
      () -> StoreMaster.parse("AreaCode,StoreName,StoreID\n1,A,X1\n2,B\n3,C,X3\n"));
    assertEquals(3, missing.line, missing.getMessage());
    StoreMaster.BadFile empty = assertThrows(StoreMaster.BadFile.class,
      () -> StoreMaster.parse("AreaCode,StoreName,StoreID\n1,A,X1\n2,B,\n"));
    assertEquals(3, empty.line, empty.getMessage());
    StoreMaster.BadFile header = assertThrows(StoreMaster.BadFile.class, () -> StoreMaster.parse("Area,Name,Id\n1,A,X1\n"));
    assertEquals(1, header.line);
    assertThrows(StoreMaster.BadFile.class, () -> StoreMaster.parse("AreaCode,StoreName,StoreID\n1,\"A,X1\n2,B,X2\n"),
      "an unclosed quote");
  }
}
