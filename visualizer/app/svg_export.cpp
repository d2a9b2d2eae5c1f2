#include "visualizer/app/svg_export.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <imgui.h>

namespace pal::viz {

namespace {

struct GlyphRef {
  const ImFont* font = nullptr;
  const ImFontGlyph* glyph = nullptr;
};

// Texture coordinates compared at 1/65536: the atlas is at most a few thousand texels wide.
using UvKey = std::pair<long, long>;
UvKey uv_key(ImVec2 uv) { return {std::lround(double(uv.x) * 65536.0), std::lround(double(uv.y) * 65536.0)}; }

std::string number(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", double(value));
  // Trim trailing zeros: "12.50" -> "12.5", "3.00" -> "3".
  std::string s(text);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

// "#rrggbb" and the opacity of an ImU32 (ImGui packs it as ABGR).
std::string colour_attributes(const char* attribute, ImU32 colour) {
  const unsigned r = colour & 0xFF, g = (colour >> 8) & 0xFF, b = (colour >> 16) & 0xFF, a = (colour >> 24) & 0xFF;
  char text[96];
  if (a == 255) std::snprintf(text, sizeof text, " %s=\"#%02x%02x%02x\"", attribute, r, g, b);
  else std::snprintf(text, sizeof text, " %s=\"#%02x%02x%02x\" %s-opacity=\"%.3f\"", attribute, r, g, b, attribute, double(a) / 255.0);
  return text;
}

void append_escaped(std::string& out, unsigned codepoint) {
  switch (codepoint) {
    case '&': out += "&amp;"; return;
    case '<': out += "&lt;"; return;
    case '>': out += "&gt;"; return;
    default: break;
  }
  if (codepoint < 0x20) return;  // no control characters in XML 1.0
  // UTF-8.
  if (codepoint < 0x80) {
    out += static_cast<char>(codepoint);
  } else if (codepoint < 0x800) {
    out += static_cast<char>(0xC0 | (codepoint >> 6));
    out += static_cast<char>(0x80 | (codepoint & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (codepoint >> 12));
    out += static_cast<char>(0x80 | ((codepoint >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (codepoint & 0x3F));
  }
}

// One line of characters of one colour and size, gathered before it is written as one <text>.
struct TextRun {
  float baseline = 0, size = 0;
  ImU32 colour = 0;
  std::vector<float> xs;
  std::string chars;
  float next_x = 0;  // where the next glyph would start if the run continues
};

void flush_text(std::string& out, TextRun& run) {
  if (run.chars.empty()) return;
  // The run's width as ImGui laid it out: a viewer's substitute font (ProggyClean is rarely
  // installed) is stretched or squeezed to it, so words neither overlap nor drift apart.
  out += "<text x=\"" + number(run.xs.front()) + "\" y=\"" + number(run.baseline) + "\" font-size=\"" + number(run.size) +
         "\" textLength=\"" + number(run.next_x - run.xs.front()) + "\" lengthAdjust=\"spacingAndGlyphs\"" +
         colour_attributes("fill", run.colour) + ">" + run.chars + "</text>\n";
  run.chars.clear();
  run.xs.clear();
}

}  // namespace

void prepare_style_for_svg(ImGuiStyle& style) {
  style.AntiAliasedLines = false;
  style.AntiAliasedLinesUseTex = false;
  style.AntiAliasedFill = false;
}

std::string frame_to_svg(const ImDrawData& draw_data, const ImFontAtlas& atlas, const ImVec4& background) {
  // Every glyph of every font, by the texture coordinate of its top-left corner.
  std::map<UvKey, GlyphRef> glyphs;
  for (const ImFont* font : atlas.Fonts)
    for (const ImFontGlyph& glyph : font->Glyphs)
      if (glyph.Visible) glyphs.emplace(uv_key(ImVec2(glyph.U0, glyph.V0)), GlyphRef{font, &glyph});
  const UvKey white = uv_key(atlas.TexUvWhitePixel);

  const float width = draw_data.DisplaySize.x, height = draw_data.DisplaySize.y;
  const ImVec2 origin = draw_data.DisplayPos;
  std::string out;
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(width) + "\" height=\"" + number(height) +
         "\" viewBox=\"0 0 " + number(width) + " " + number(height) + "\" font-family=\"ProggyClean, 'DejaVu Sans Mono', monospace\">\n";
  out += "<rect width=\"100%\" height=\"100%\"" +
         colour_attributes("fill", ImGui::ColorConvertFloat4ToU32(ImVec4(background.x, background.y, background.z, 1.0f))) + "/>\n";

  std::map<std::tuple<long, long, long, long>, int> clip_ids;
  std::string defs, body;
  for (int list_idx = 0; list_idx < draw_data.CmdListsCount; ++list_idx) {
    const ImDrawList& list = *draw_data.CmdLists[list_idx];
    for (const ImDrawCmd& cmd : list.CmdBuffer) {
      if (cmd.UserCallback != nullptr || cmd.ElemCount == 0) continue;
      const float cx0 = std::max(cmd.ClipRect.x - origin.x, 0.0f), cy0 = std::max(cmd.ClipRect.y - origin.y, 0.0f);
      const float cx1 = std::min(cmd.ClipRect.z - origin.x, width), cy1 = std::min(cmd.ClipRect.w - origin.y, height);
      if (cx1 <= cx0 || cy1 <= cy0) continue;
      const auto clip_key = std::tuple{std::lround(cx0), std::lround(cy0), std::lround(cx1), std::lround(cy1)};
      auto [clip, added] = clip_ids.emplace(clip_key, static_cast<int>(clip_ids.size()));
      if (added)
        defs += "<clipPath id=\"c" + std::to_string(clip->second) + "\"><rect x=\"" + number(cx0) + "\" y=\"" + number(cy0) +
                "\" width=\"" + number(cx1 - cx0) + "\" height=\"" + number(cy1 - cy0) + "\"/></clipPath>\n";
      body += "<g clip-path=\"url(#c" + std::to_string(clip->second) + ")\">\n";

      std::string path;
      ImU32 path_colour = 0;
      TextRun run;
      auto flush_path = [&] {
        if (path.empty()) return;
        body += "<path d=\"" + path + "\"" + colour_attributes("fill", path_colour) + "/>\n";
        path.clear();
      };
      const ImDrawIdx* indices = list.IdxBuffer.Data + cmd.IdxOffset;
      const ImDrawVert* vertices = list.VtxBuffer.Data + cmd.VtxOffset;
      auto point = [&](const ImDrawVert& v) { return number(v.pos.x - origin.x) + "," + number(v.pos.y - origin.y); };
      for (unsigned t = 0; t + 2 < cmd.ElemCount; t += 3) {
        const ImDrawVert& a = vertices[indices[t]];
        const ImDrawVert& b = vertices[indices[t + 1]];
        const ImDrawVert& c = vertices[indices[t + 2]];
        const bool solid = uv_key(a.uv) == white && uv_key(b.uv) == white && uv_key(c.uv) == white;
        // A rectangle is two triangles (a, b, c) and (a, c, d): written as one quadrilateral.
        const bool quad = t + 5 < cmd.ElemCount && indices[t + 3] == indices[t] && indices[t + 4] == indices[t + 2];
        if (solid) {
          if ((a.col >> 24) == 0) continue;  // fully transparent
          flush_text(body, run);
          if (a.col != path_colour) flush_path();
          path_colour = a.col;
          path += "M" + point(a) + "L" + point(b) + "L" + point(c);
          if (quad && uv_key(vertices[indices[t + 5]].uv) == white && vertices[indices[t + 5]].col == a.col) {
            path += "L" + point(vertices[indices[t + 5]]);
            t += 3;
          }
          path += "Z";
          continue;
        }
        // A glyph: its quad's smallest texture coordinate is the glyph's top-left corner in the atlas.
        const ImVec2 uv_min(std::min({a.uv.x, b.uv.x, c.uv.x}), std::min({a.uv.y, b.uv.y, c.uv.y}));
        const auto found = glyphs.find(uv_key(uv_min));
        if (quad) t += 3;
        if (found == glyphs.end()) continue;
        flush_path();
        const ImFontGlyph& glyph = *found->second.glyph;
        const ImFont& font = *found->second.font;
        const float x0 = std::min({a.pos.x, b.pos.x, c.pos.x}) - origin.x, y0 = std::min({a.pos.y, b.pos.y, c.pos.y}) - origin.y;
        const float x1 = std::max({a.pos.x, b.pos.x, c.pos.x}) - origin.x;
        // The quad is the glyph's box scaled by the font's scale at the time: undo the offsets to
        // recover the pen position and the baseline.
        const float scale = glyph.X1 > glyph.X0 ? (x1 - x0) / (glyph.X1 - glyph.X0) : 1.0f;
        const float pen_x = x0 - glyph.X0 * scale;
        const float baseline = y0 - glyph.Y0 * scale + font.Ascent * scale;
        // ImGui's default font (ProggyClean) advances 7 px at 13 px; the monospace fonts a viewer
        // substitutes advance about 0.6 em, so the size is chosen to keep ImGui's advance.
        const float size = std::min(font.FontSize * scale, glyph.AdvanceX * scale / 0.6f);
        const bool continues = !run.chars.empty() && std::fabs(run.baseline - baseline) < 0.01f &&
                               std::fabs(run.size - size) < 0.01f && run.colour == a.col && std::fabs(run.next_x - pen_x) < 0.5f;
        if (!continues) flush_text(body, run);
        run.baseline = baseline;
        run.size = size;
        run.colour = a.col;
        run.xs.push_back(pen_x);
        append_escaped(run.chars, glyph.Codepoint);
        run.next_x = pen_x + glyph.AdvanceX * scale;
      }
      flush_path();
      flush_text(body, run);
      body += "</g>\n";
    }
  }
  if (!defs.empty()) out += "<defs>\n" + defs + "</defs>\n";
  out += body;
  out += "</svg>\n";
  return out;
}

}  // namespace pal::viz
