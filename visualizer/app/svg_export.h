// A rendered ImGui frame as an SVG document, for slides: what pal-viz --svg writes.
//
// ImGui hands the renderer triangles (position, colour, texture coordinate) grouped into draw
// commands with clip rectangles. Here the solid triangles become SVG paths (one per run of one
// colour, so the two triangles of a rectangle show no seam), each command's clip rectangle becomes a
// clipPath, and the textured quads of text, whose texture coordinates are a glyph's place in the font
// atlas, become the characters again (<text>), so the words stay words: selectable and sharp at any
// scale. Shapes must be drawn without ImGui's anti-aliasing fringes (their alpha fades per vertex,
// which SVG fills cannot follow): prepare_style_for_svg() turns them off for the frames to export.
#pragma once

#include <string>

struct ImDrawData;
struct ImFontAtlas;
struct ImGuiStyle;
struct ImVec4;

namespace pal::viz {

// Turns off anti-aliased lines and fills, whose fringes SVG cannot draw.
void prepare_style_for_svg(ImGuiStyle& style);

// The frame as an SVG document of the draw data's display size, over `background` (the colour
// the window clears to). Textured triangles that are not glyphs of `atlas` are left out.
std::string frame_to_svg(const ImDrawData& draw_data, const ImFontAtlas& atlas, const ImVec4& background);

}  // namespace pal::viz
