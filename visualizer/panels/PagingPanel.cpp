// Paging panel: each sequence's logical kv_blocks, the block table, and the physical blocks of the
// KV-cache pool they point to. Coloured per sequence; partial last blocks drawn part-filled; pool
// blocks that no sequence uses drawn empty; the blocks the warps work on at this step outlined.
#include <algorithm>
#include <string>

#include <imgui.h>

#include "visualizer/model/format.h"
#include "visualizer/panels/panels.h"
#include "visualizer/panels/widgets.h"

namespace pal::viz {

namespace {

// Which logical kv_block each warp works on at this step (QK or V iteration), else -1.
std::vector<int> blocks_at_step(const ViewModel& model, int step_index) {
  const Session& s = model.session();
  const Step& step = model.step(step_index);
  const int warps = s.geometry().num_warps();
  std::vector<int> blocks(static_cast<std::size_t>(warps), -1);
  if (step.kind != StepKind::qk_iteration && step.kind != StepKind::v_iteration) return blocks;
  const TokenRange range = s.range(model.seq_idx(), step.partition_idx);
  for (int warp = 0; warp < warps; ++warp) {
    const int block = range.start_block_idx + warp + step.index * warps;
    if (block < range.end_block_idx) blocks[static_cast<std::size_t>(warp)] = block;
  }
  return blocks;
}

}  // namespace

void draw_paging_panel(const ViewModel& model, UiState& ui) {
  const Session& s = model.session();
  const int block_size = s.scenario().block_size;
  const int num_blocks = static_cast<int>(s.block_owners().size());
  // Boxes wide enough for their longest label ("L12 -> P123").
  const float box_w = ImGui::CalcTextSize("L00 -> P000").x + 10.0f, box_h = 34.0f, gap = 6.0f, label_w = 110.0f;
  const float width = std::max(ImGui::GetContentRegionAvail().x, label_w + 4 * (box_w + gap));
  const int per_row = std::max(1, int((width - label_w) / (box_w + gap)));

  // Logical rows, then the pool, in one canvas so the table's arrows can cross between them.
  float logical_height = 0;
  std::vector<float> seq_top(static_cast<std::size_t>(s.scenario().num_seqs));
  for (int seq = 0; seq < s.scenario().num_seqs; ++seq) {
    seq_top[static_cast<std::size_t>(seq)] = logical_height;
    const int blocks = divide_round_up(s.seq_len(seq), block_size);
    logical_height += float(divide_round_up(std::max(blocks, 1), per_row)) * (box_h + gap) + 8.0f;
  }
  const float pool_label = 30.0f;
  const float pool_top = logical_height + 40.0f;
  const int pool_rows = divide_round_up(std::max(num_blocks, 1), per_row);
  const float height = pool_top + pool_label + float(pool_rows) * (box_h + gap + 14.0f);

  ImGui::TextDisabled("%s, block_size %d, pool of %d physical blocks (each holds block_size tokens x %d kv heads "
                      "x head_size %d, for K and for V)",
                      counted(s.scenario().num_seqs, "sequence").c_str(), block_size, num_blocks, s.scenario().num_kv_heads, s.scenario().head_size);
  const Canvas canvas = begin_canvas("##paging", ImVec2(width, height));
  const std::vector<int> working = blocks_at_step(model, ui.step);

  auto logical_box = [&](int seq, int logical) {
    const int row = logical / per_row, column = logical % per_row;
    const float x = label_w + float(column) * (box_w + gap);
    const float y = seq_top[static_cast<std::size_t>(seq)] + float(row) * (box_h + gap);
    return ImVec4(x, y, x + box_w, y + box_h);
  };
  auto pool_box = [&](int physical) {
    const int row = physical / per_row, column = physical % per_row;
    const float x = label_w + float(column) * (box_w + gap);
    const float y = pool_top + pool_label + float(row) * (box_h + gap + 14.0f);
    return ImVec4(x, y, x + box_w, y + box_h);
  };
  auto partial_fill = [&](const ImVec4& box, ImU32 colour, int valid) {
    // Used slots in the sequence's colour, padding slots dark: how much of the block holds tokens.
    const float split = box.x + (box.z - box.x) * float(valid) / float(block_size);
    canvas.draw->AddRectFilled(canvas.at(box.x, box.y), canvas.at(box.z, box.w), kEmptyColour);
    canvas.draw->AddRectFilled(canvas.at(box.x, box.y), canvas.at(split, box.w), colour);
  };

  // Arrows first, so boxes draw over them. With many blocks only the focused sequence's arrows are
  // drawn: a hundred crossing arrows hide more than they show.
  int total_blocks = 0;
  for (int seq = 0; seq < s.scenario().num_seqs; ++seq) total_blocks += divide_round_up(s.seq_len(seq), block_size);
  for (int seq = 0; seq < s.scenario().num_seqs; ++seq) {
    const bool focused = seq == model.seq_idx();
    if (!focused && total_blocks > 32) continue;
    for (int logical = 0; logical < divide_round_up(s.seq_len(seq), block_size); ++logical) {
      const ImVec4 from = logical_box(seq, logical);
      const ImVec4 to = pool_box(s.physical_block(seq, logical));
      const ImU32 colour = (sequence_colour(seq) & 0x00FFFFFF) | (focused ? 0xD0000000 : 0x80000000);
      const ImVec2 a = canvas.at((from.x + from.z) * 0.5f, from.w);
      const ImVec2 b = canvas.at((to.x + to.z) * 0.5f, to.y);
      canvas.draw->AddBezierCubic(a, ImVec2(a.x, a.y + 40), ImVec2(b.x, b.y - 40), b, colour, focused ? 2.0f : 1.0f);
    }
  }

  for (int seq = 0; seq < s.scenario().num_seqs; ++seq) {
    const int seq_len = s.seq_len(seq);
    const int blocks = divide_round_up(seq_len, block_size);
    const std::string label = "seq " + std::to_string(seq) + "\n" + std::to_string(seq_len) + " tokens";
    canvas.draw->AddText(canvas.at(0, seq_top[static_cast<std::size_t>(seq)]),
                         seq == model.seq_idx() ? kSelectionColour : kTextLight, label.c_str());
    for (int logical = 0; logical < blocks; ++logical) {
      const ImVec4 box = logical_box(seq, logical);
      if (!ImGui::IsRectVisible(canvas.at(box.x, box.y), canvas.at(box.z, box.w))) continue;
      const int valid = std::min(block_size, seq_len - logical * block_size);
      partial_fill(box, sequence_colour(seq), valid);
      const std::string text = "L" + std::to_string(logical) + " -> P" + std::to_string(s.physical_block(seq, logical)) +
                               (valid < block_size ? "\n" + std::to_string(valid) + "/" + std::to_string(block_size) : "");
      canvas.draw->AddText(canvas.at(box.x + 3, box.y + 2), kTextDark, text.c_str());
      // The selected lane's warp takes blocks warp, warp + NUM_WARPS, ... of each partition.
      const int lane_focus = focus_thread(ui);
      if (seq == model.seq_idx() && lane_focus >= 0) {
        const int blocks_per_partition = s.is_v2() ? s.scenario().partition_size / block_size : blocks;
        if ((logical % blocks_per_partition) % s.geometry().num_warps() == lane_focus / kWarpSize)
          canvas.draw->AddRect(canvas.at(box.x + 2, box.y + 2), canvas.at(box.z - 2, box.w - 2), IM_COL32(255, 255, 255, 200), 0, 0, 1.5f);
      }
      if (seq == model.seq_idx())
        for (std::size_t warp = 0; warp < working.size(); ++warp)
          if (working[warp] == logical) {
            canvas.draw->AddRect(canvas.at(box.x - 2, box.y - 2), canvas.at(box.z + 2, box.w + 2), kSelectionColour, 0, 0, 2.5f);
            canvas.draw->AddText(canvas.at(box.z - 20, box.w - 14), kTextDark, ("w" + std::to_string(warp)).c_str());
          }
      // v2: a partition starts here (its own thread block).
      if (s.is_v2() && logical > 0 && (logical * block_size) % s.scenario().partition_size == 0) {
        canvas.draw->AddLine(canvas.at(box.x - gap * 0.5f, box.y - 3), canvas.at(box.x - gap * 0.5f, box.w + 3), kSelectionColour, 3.0f);
        canvas.draw->AddText(canvas.at(box.x, box.y - 12), kSelectionColour,
                             ("partition " + std::to_string(logical * block_size / s.scenario().partition_size)).c_str());
      }
      if (canvas.hovered(box.x, box.y, box.z, box.w))
        ImGui::SetTooltip("seq %d, logical block %d = tokens %d-%d\nblock_tables[%d][%d] = %d\n%d of %d slots hold tokens%s", seq,
                          logical, logical * block_size, logical * block_size + valid - 1, seq, logical,
                          s.physical_block(seq, logical), valid, block_size,
                          valid < block_size ? "; the rest are padding the kernel reads but masks" : "");
    }
  }

  canvas.draw->AddText(canvas.at(0, pool_top + 4), kTextLight, "KV-cache pool (physical blocks)");
  for (int physical = 0; physical < num_blocks; ++physical) {
    const ImVec4 box = pool_box(physical);
    if (!ImGui::IsRectVisible(canvas.at(box.x, box.y), canvas.at(box.z, box.w))) continue;
    const BlockOwner& owner = s.block_owners()[static_cast<std::size_t>(physical)];
    if (owner.seq_idx >= 0) partial_fill(box, sequence_colour(owner.seq_idx), owner.num_valid_tokens);
    else canvas.draw->AddRect(canvas.at(box.x, box.y), canvas.at(box.z, box.w), IM_COL32(120, 120, 130, 255));
    const std::string text = "P" + std::to_string(physical) + "\n" +
                             (owner.seq_idx >= 0 ? "s" + std::to_string(owner.seq_idx) + " L" + std::to_string(owner.logical_block_idx)
                                                 : std::string("unused"));
    canvas.draw->AddText(canvas.at(box.x + 3, box.y + 2), owner.seq_idx >= 0 ? kTextDark : IM_COL32(150, 150, 160, 255),
                         text.c_str());
    if (canvas.hovered(box.x, box.y, box.z, box.w)) {
      if (owner.seq_idx >= 0)
        ImGui::SetTooltip("physical block %d holds seq %d's logical block %d (%d of %d slots used)", physical, owner.seq_idx,
                          owner.logical_block_idx, owner.num_valid_tokens, block_size);
      else
        ImGui::SetTooltip("physical block %d: no block table entry points here (unused; the generator fills it with NaN, "
                          "so a stray read would show in the output)", physical);
    }
  }

  // The block table itself.
  const int columns = static_cast<int>(s.inputs().block_tables.shape.at(1));
  ImGui::TextDisabled("block_tables [num_seqs = %d, max_num_blocks_per_seq = %d] (int32; -1 = no block)", s.scenario().num_seqs,
                      columns);
  // Long tables wrap: ImGui tables hold at most 64 columns, and 32 entries a line stay readable.
  constexpr int kPerLine = 32;
  const int shown_columns = std::min(columns, kPerLine);
  if (ImGui::BeginTable("block_tables", shown_columns + 1, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit)) {
    for (int seq = 0; seq < std::min(s.scenario().num_seqs, 256); ++seq) {
      for (int first = 0; first < columns; first += kPerLine) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        if (first == 0) ImGui::Text("seq %d", seq);
        else ImGui::TextDisabled("[%d..]", first);
        for (int c = first; c < std::min(columns, first + kPerLine); ++c) {
          ImGui::TableNextColumn();
          const int entry = s.inputs().block_tables.data<std::int32_t>()[std::int64_t(seq) * columns + c];
          if (entry < 0) ImGui::TextDisabled("-1");
          else ImGui::Text("%d", entry);
        }
      }
    }
    ImGui::EndTable();
  }
}

}  // namespace pal::viz
