package io.etcdcrypt.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import javax.imageio.ImageIO;

/**
 * The results chart, drawn with Java2D (headless): for each operation at 1 KiB and its highest load
 * level, one panel of throughput and one of p99 latency, a bar per target.
 */
final class Chart {

  private static final Color[] PALETTE = {
    new Color(0x4c4c4c),
    new Color(0x9e9e9e),
    new Color(0x8ecae6),
    new Color(0x219ebc),
    new Color(0xd62828),
    new Color(0x2a9d8f),
    new Color(0xf4a261),
    new Color(0xe9c46a)
  };
  private static final int PANEL_W = 360;
  private static final int PANEL_H = 300;
  private static final int MARGIN = 60;

  private Chart() {}

  static void render(
      Map<Scenario, Map<Target, Cell>> cells, List<Target> targets, Path file, String title)
      throws IOException {
    System.setProperty("java.awt.headless", "true");
    List<Scenario> shown = headline(cells);
    int w = MARGIN + shown.size() * (PANEL_W + 20) + 20;
    int h = 70 + 2 * (PANEL_H + 70) + 60;
    BufferedImage img = new BufferedImage(Math.max(w, 900), h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(
        RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, img.getWidth(), h);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
    g.drawString("etcd-crypt-proxy vs direct etcd and etcd grpc-proxy (" + title + ")", MARGIN, 30);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    g.drawString(
        "Closed loop, all targets interleaved in one run; 1 KiB values. Higher is better on top, lower is "
            + "better below.",
        MARGIN,
        50);
    for (int i = 0; i < shown.size(); i++) {
      Scenario s = shown.get(i);
      List<Cell> row = new ArrayList<>(cells.get(s).values());
      int x = MARGIN + i * (PANEL_W + 20);
      panel(
          g, x, 80, s.op().label + " @" + s.inFlight() + ": ops/s", row, Cell::throughput, "%.0f");
      panel(
          g,
          x,
          80 + PANEL_H + 70,
          s.op().label + " @" + s.inFlight() + ": p99 ms",
          row,
          c -> c.percentileMicros(99) / 1000,
          "%.1f");
    }
    int lx = MARGIN;
    int ly = h - 25;
    for (int i = 0; i < targets.size(); i++) {
      g.setColor(PALETTE[i % PALETTE.length]);
      g.fillRect(lx, ly - 11, 14, 14);
      g.setColor(Color.BLACK);
      g.drawString(targets.get(i).name, lx + 18, ly);
      lx += 30 + g.getFontMetrics().stringWidth(targets.get(i).name);
    }
    g.dispose();
    ImageIO.write(img, "png", file.toFile());
  }

  /** Per operation, the 1 KiB scenario with the most in flight. */
  private static List<Scenario> headline(Map<Scenario, Map<Target, Cell>> cells) {
    List<Scenario> out = new ArrayList<>();
    for (Op op : Op.values()) {
      cells.keySet().stream()
          .filter(s -> s.op() == op && s.valueBytes() == Plan.KIB)
          .max((a, b) -> Integer.compare(a.inFlight(), b.inFlight()))
          .ifPresent(out::add);
    }
    return out;
  }

  private static void panel(
      Graphics2D g,
      int x,
      int y,
      String title,
      List<Cell> row,
      ToDoubleFunction<Cell> value,
      String format) {
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
    g.drawString(title, x, y);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
    double max = row.stream().mapToDouble(value).max().orElse(1);
    if (max <= 0) {
      max = 1;
    }
    int top = y + 20;
    int bottom = y + PANEL_H - 10;
    int n = row.size();
    int slot = PANEL_W / Math.max(1, n);
    g.setColor(new Color(0xdddddd));
    g.setStroke(new BasicStroke(1));
    g.drawLine(x, bottom, x + PANEL_W, bottom);
    for (int i = 0; i < n; i++) {
      double v = value.applyAsDouble(row.get(i));
      int barH = (int) Math.round((bottom - top) * v / max);
      int bx = x + i * slot + 3;
      g.setColor(PALETTE[i % PALETTE.length]);
      g.fillRect(bx, bottom - barH, slot - 6, barH);
      g.setColor(Color.BLACK);
      String label = String.format(format, v);
      int lw = g.getFontMetrics().stringWidth(label);
      g.drawString(label, bx + (slot - 6 - lw) / 2, bottom - barH - 3);
      String name = row.get(i).target.name;
      String shortName = name.length() > 7 ? name.substring(0, 7) : name;
      int nw = g.getFontMetrics().stringWidth(shortName);
      g.drawString(shortName, bx + (slot - 6 - nw) / 2, bottom + 12);
    }
  }
}
