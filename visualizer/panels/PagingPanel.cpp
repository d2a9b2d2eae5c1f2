// Paging panel: each sequence's logical kv_blocks, the block table, and the physical blocks of the
// KV-cache pool they point to. Coloured per sequence; partial last blocks drawn part-filled; pool
// blocks that no sequence uses drawn empty; the blocks the warps work on at this step outlined.
#include <algorithm>
#include <string>

#include <imgui.h>

#include "visualizer/model/format.h"
#include "visualizer/model/sparsity.h"
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

// Colours of the sparse-pattern map and of skipped kv_blocks.
constexpr ImU32 kLocalColour = IM_COL32(110, 190, 120, 255);
constexpr ImU32 kRemoteColour = IM_COL32(100, 150, 230, 255);
constexpr ImU32 kSkippedColour = IM_COL32(48, 48, 54, 255);
constexpr ImU32 kSkippedHatch = IM_COL32(150, 150, 160, 160);
// Above this many kv_blocks in all, the logical rows and the pool are drawn as an overview: small
// cells without labels (hover still names each block), so 20k tokens fit a screen or two.
constexpr int kOverviewBlocks = 192;

ImU32 sparse_cell_colour(SparseCell cell) {
  switch (cell) {
    case SparseCell::local: return kLocalColour;
    case SparseCell::remote: return kRemoteColour;
    case SparseCell::skipped: return kSkippedColour;
  }
  return kSkippedColour;
}

// Diagonal lines over a box: a block this head never reads.
void hatch(const Canvas& canvas, const ImVec4& box) {
  const float w = box.z - box.x, h = box.w - box.y;
  for (float d = 0; d < w + h; d += 6.0f) {
    const float x0 = box.x + std::max(0.0f, d - h), y0 = box.y + std::min(d, h);
    const float x1 = box.x + std::min(d, w), y1 = box.y + std::max(0.0f, d - w);
    canvas.draw->AddLine(canvas.at(x0, y0), canvas.at(x1, y1), kSkippedHatch, 1.0f);
  }
}

// The heads x sparse-blocks map of the focused sequence: which sparse blocks each query head reads,
// so the per-head sliding of the remote blocks (and tp_rank's shift) can be seen.
void draw_sparse_map(const ViewModel& model) {
  const Session& s = model.session();
  const Scenario& scenario = s.scenario();
  const BlockSparseParams& params = scenario.block_sparse;
  const int seq_len = s.seq_len(model.seq_idx());
  const SparsePattern pattern = sparse_pattern(scenario, seq_len);
  ImGui::TextDisabled("Block-sparse pattern of seq %d (%d tokens = %s of %d; local_blocks %d, vert_stride %d, "
                      "head_sliding_step %d, tp_rank %d): rows = query heads, columns = sparse blocks",
                      model.seq_idx(), seq_len, counted(pattern.num_sparse_blocks, "sparse block").c_str(),
                      pattern.sparse_block_size, params.local_blocks, params.vert_stride, params.head_sliding_step,
                      params.tp_rank);
  ImGui::SameLine();
  help_marker("Upstream's rule (Phi-3-small): a query reads its local_blocks most recent sparse blocks (green) and one "
              "remote sparse block in every vert_stride (blue), where the remote ones are shifted per head by "
              "head_offset = (tp_rank * num_heads + head) * head_sliding_step + 1 (by kv head when the step is "
              "negative). Dark cells are skipped: their logits are -FLT_MAX and their keys and values are never read.");
  const float label_w = 64.0f, top_pad = 16.0f;
  const float avail = std::max(200.0f, ImGui::GetContentRegionAvail().x - label_w - 8.0f);
  const float cell_w = std::clamp(avail / float(std::max(pattern.num_sparse_blocks, 1)), 2.0f, 18.0f);
  const float cell_h = std::clamp(160.0f / float(std::max(pattern.num_heads, 1)), 3.0f, 14.0f);
  const float width = label_w + cell_w * float(pattern.num_sparse_blocks) + 8.0f;
  const float height = top_pad + cell_h * float(pattern.num_heads) + 4.0f;
  const Canvas canvas = begin_canvas("##sparse_map", ImVec2(width, height));
  for (int head = 0; head < pattern.num_heads; ++head) {
    const float y = top_pad + cell_h * float(head);
    if (cell_h >= 10.0f || head == model.head_idx())
      canvas.draw->AddText(canvas.at(0, y + cell_h * 0.5f - 7.0f), head == model.head_idx() ? kSelectionColour : kTextLight,
                           ("head " + std::to_string(head)).c_str());
    for (int block = 0; block < pattern.num_sparse_blocks; ++block) {
      const float x = label_w + cell_w * float(block);
      const float gap = cell_w >= 6.0f ? 1.0f : 0.0f;
      canvas.draw->AddRectFilled(canvas.at(x, y), canvas.at(x + cell_w - gap, y + cell_h - (cell_h >= 6.0f ? 1.0f : 0.0f)),
                                 sparse_cell_colour(pattern.at(head, block)));
      if (canvas.hovered(x, y, x + cell_w, y + cell_h)) {
        const int first_token = block * pattern.sparse_block_size;
        const int last_token = std::min(seq_len, first_token + pattern.sparse_block_size) - 1;
        ImGui::SetTooltip("head %d, sparse block %d: tokens %d-%d (kv_blocks %d-%d)\n%s%s\nhead_offset %d: remote when "
                          "(%d + %d) %% %d == 0; local when %d > q_bs %d - local_blocks %d\nthis head reads %d of %d sparse blocks",
                          head, block, first_token, last_token, first_token / scenario.block_size,
                          last_token / scenario.block_size, std::string(sparse_cell_name(pattern.at(head, block))).c_str(),
                          block == pattern.query_sparse_block ? " (the query's own sparse block)" : "",
                          pattern.head_offsets[static_cast<std::size_t>(head)], block,
                          pattern.head_offsets[static_cast<std::size_t>(head)], params.vert_stride, block,
                          pattern.query_sparse_block, params.local_blocks, pattern.num_attended(head),
                          pattern.num_sparse_blocks);
      }
    }
  }
  // The focused head's row and the query's sparse block.
  const float focus_y = top_pad + cell_h * float(model.head_idx());
  canvas.draw->AddRect(canvas.at(label_w - 1, focus_y - 1), canvas.at(width - 7, focus_y + cell_h), kSelectionColour, 0, 0, 1.5f);
  const float q_x = label_w + cell_w * (float(pattern.query_sparse_block) + 0.5f);
  canvas.draw->AddText(canvas.at(q_x - 3, 0), kTextLight, "q");
  ImGui::TextDisabled("head %d reads %d of %d sparse blocks.", model.head_idx(), pattern.num_attended(model.head_idx()),
                      pattern.num_sparse_blocks);
  ImGui::SameLine();
  ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kLocalColour), "local");
  ImGui::SameLine();
  ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kRemoteColour), "remote");
  ImGui::SameLine();
  ImGui::TextDisabled("dark: skipped  ('q': the query's sparse block)");
  ImGui::Separator();
}

}  // namespace

void draw_paging_panel(const ViewModel& model, UiState& ui) {
  const Session& s = model.session();
  const Scenario& scenario = s.scenario();
  const int block_size = scenario.block_size;
  const int num_blocks = static_cast<int>(s.block_owners().size());
  int total_blocks = 0;
  for (int seq = 0; seq < scenario.num_seqs; ++seq) total_blocks += divide_round_up(s.seq_len(seq), block_size);
  const bool overview = total_blocks > kOverviewBlocks;
  const bool sparse = scenario.block_sparse.enabled();
  if (sparse) draw_sparse_map(model);

  // Boxes wide enough for their longest label ("L12 -> P123"); small unlabelled cells in the overview.
  const float box_w = overview ? 9.0f : ImGui::CalcTextSize("L00 -> P000").x + 10.0f;
  const float box_h = overview ? 12.0f : 34.0f, gap = overview ? 2.0f : 6.0f, label_w = 110.0f;
  const float pool_row_extra = overview ? 0.0f : 14.0f;
  // v2: a band above each row of logical blocks for the partition labels, so that they cover
  // neither the blocks nor each other.
  const float partition_band = s.is_v2() ? ImGui::GetTextLineHeight() + 1.0f : 0.0f;
  const float row_pitch = box_h + gap + partition_band;
  const float width = std::max(ImGui::GetContentRegionAvail().x, label_w + 4 * (box_w + gap));
  const int per_row = std::max(1, int((width - label_w) / (box_w + gap)));

  // Logical rows, then the pool, in one canvas so the table's arrows can cross between them.
  float logical_height = 0;
  std::vector<float> seq_top(static_cast<std::size_t>(scenario.num_seqs));
  for (int seq = 0; seq < scenario.num_seqs; ++seq) {
    seq_top[static_cast<std::size_t>(seq)] = logical_height + (overview ? 0.0f : 12.0f);
    const int blocks = divide_round_up(s.seq_len(seq), block_size);
    logical_height += float(divide_round_up(std::max(blocks, 1), per_row)) * row_pitch + (overview ? 30.0f : 20.0f);
  }
  const float pool_label = 30.0f;
  const float pool_top = logical_height + (overview ? 10.0f : 40.0f);
  const int pool_rows = divide_round_up(std::max(num_blocks, 1), per_row);
  const float height = pool_top + pool_label + float(pool_rows) * (box_h + gap + pool_row_extra);

  ImGui::TextDisabled("%s, block_size %d, pool of %d physical blocks (each holds block_size tokens x %d kv heads "
                      "x head_size %d, for K and for V)%s",
                      counted(scenario.num_seqs, "sequence").c_str(), block_size, num_blocks, scenario.num_kv_heads,
                      scenario.head_size,
                      overview ? ("; overview of " + std::to_string(total_blocks) + " kv_blocks: hover a cell for its block").c_str()
                               : "");
  const Canvas canvas = begin_canvas("##paging", ImVec2(width, height));
  const std::vector<int> working = blocks_at_step(model, ui.step);
  const int current_partition = model.partition_of_step(ui.step);
  const int focus_seq = model.seq_idx();
  const int focus_head = model.head_idx();

  auto logical_box = [&](int seq, int logical) {
    const int row = logical / per_row, column = logical % per_row;
    const float x = label_w + float(column) * (box_w + gap);
    const float y = seq_top[static_cast<std::size_t>(seq)] + partition_band + float(row) * row_pitch;
    return ImVec4(x, y, x + box_w, y + box_h);
  };
  auto pool_box = [&](int physical) {
    const int row = physical / per_row, column = physical % per_row;
    const float x = label_w + float(column) * (box_w + gap);
    const float y = pool_top + pool_label + float(row) * (box_h + gap + pool_row_extra);
    return ImVec4(x, y, x + box_w, y + box_h);
  };
  auto partial_fill = [&](const ImVec4& box, ImU32 colour, int valid) {
    // Used slots in the sequence's colour, padding slots dark: how much of the block holds tokens.
    const float split = box.x + (box.z - box.x) * float(valid) / float(block_size);
    canvas.draw->AddRectFilled(canvas.at(box.x, box.y), canvas.at(box.z, box.w), kEmptyColour);
    canvas.draw->AddRectFilled(canvas.at(box.x, box.y), canvas.at(split, box.w), colour);
  };
  auto skipped = [&](int seq, int logical) {
    return sparse && seq == focus_seq && kv_block_skipped(scenario, s.seq_len(seq), focus_head, logical);
  };
  auto partition_of_block = [&](int logical) { return s.is_v2() ? logical * block_size / scenario.partition_size : 0; };

  // The hovered block (a logical one, or the owner of a hovered pool block): its arrow is drawn.
  int hovered_seq = -1, hovered_logical = -1;
  if (ImGui::IsItemHovered()) {
    const ImVec2 mouse(ImGui::GetMousePos().x - canvas.origin.x, ImGui::GetMousePos().y - canvas.origin.y);
    auto inside = [&](const ImVec4& box) { return mouse.x >= box.x && mouse.x < box.z && mouse.y >= box.y && mouse.y < box.w; };
    for (int seq = 0; seq < scenario.num_seqs && hovered_seq < 0; ++seq)
      for (int logical = 0; logical < divide_round_up(s.seq_len(seq), block_size); ++logical)
        if (inside(logical_box(seq, logical))) {
          hovered_seq = seq;
          hovered_logical = logical;
          break;
        }
    if (hovered_seq < 0 && mouse.y >= pool_top + pool_label) {
      const int row = int((mouse.y - pool_top - pool_label) / (box_h + gap + pool_row_extra));
      const int column = int((mouse.x - label_w) / (box_w + gap));
      const int physical = row * per_row + column;
      if (mouse.x >= label_w && column < per_row && physical >= 0 && physical < num_blocks && inside(pool_box(physical))) {
        const BlockOwner& owner = s.block_owners()[static_cast<std::size_t>(physical)];
        hovered_seq = owner.seq_idx;
        hovered_logical = owner.seq_idx >= 0 ? owner.logical_block_idx : -1;
      }
    }
  }

  // v2: each partition of the focused sequence shaded behind its blocks, the current one in the
  // selection colour; in the band above each row, a tick where a partition starts and its label
  // where there is room: "partition N", "p N" or "N", the longest that fits before the next
  // partition's start on that row, else "N" when it clears the previous label, else none (narrow
  // partitions then get every k-th label; hovering a block names its partition).
  if (s.is_v2()) {
    for (int logical = 0; logical < divide_round_up(s.seq_len(focus_seq), block_size); ++logical) {
      const ImVec4 box = logical_box(focus_seq, logical);
      const int partition = partition_of_block(logical);
      const ImU32 shade = partition == current_partition ? IM_COL32(255, 220, 0, 70)
                          : partition % 2                ? IM_COL32(255, 255, 255, 30)
                                                         : IM_COL32(255, 255, 255, 12);
      canvas.draw->AddRectFilled(canvas.at(box.x - gap * 0.5f, box.y - gap * 0.5f), canvas.at(box.z + gap * 0.5f, box.w + gap * 0.5f),
                                 shade);
    }
    const int blocks_per_partition = scenario.partition_size / block_size;
    const float row_end = label_w + float(per_row) * (box_w + gap);
    for (int seq = 0; seq < scenario.num_seqs; ++seq) {
      const int blocks = divide_round_up(s.seq_len(seq), block_size);
      float last_label_end = -1.0f;
      int last_row = -1;
      for (int first = 0; first < blocks; first += blocks_per_partition) {
        const int partition = first / blocks_per_partition;
        const ImVec4 box = logical_box(seq, first);
        const int row = first / per_row;
        if (row != last_row) last_label_end = -1.0f;
        last_row = row;
        const int next = first + blocks_per_partition;
        // Room on this row: up to the next partition's start when it is on the same row.
        const float room = (next < blocks && next / per_row == row ? logical_box(seq, next).x : row_end) - box.x - 4.0f;
        const bool current = seq == focus_seq && partition == current_partition;
        const ImU32 colour = current ? kSelectionColour : seq == focus_seq ? kTextLight : IM_COL32(150, 150, 160, 255);
        const float band_top = box.y - partition_band - gap * 0.5f;
        canvas.draw->AddLine(canvas.at(box.x - gap * 0.5f, band_top + 2), canvas.at(box.x - gap * 0.5f, box.y), colour, 1.0f);
        const std::string number = std::to_string(partition);
        std::string text;
        for (const std::string& option : {"partition " + number, "p " + number})
          if (text.empty() && ImGui::CalcTextSize(option.c_str()).x <= room) text = option;
        if (text.empty() && box.x >= last_label_end) text = number;
        if (text.empty() || box.x < last_label_end) continue;
        canvas.draw->AddText(canvas.at(box.x + 1, band_top), colour, text.c_str());
        last_label_end = box.x + 1 + ImGui::CalcTextSize(text.c_str()).x + 6.0f;
      }
    }
  }

  // Block-table arrows only for the blocks in play: the ones the warps work on at this step and the
  // hovered one (every arrow only while there are few: a hundred crossing curves hide more than they show).
  auto arrow = [&](int seq, int logical, bool strong) {
    const ImVec4 from = logical_box(seq, logical);
    const ImVec4 to = pool_box(s.physical_block(seq, logical));
    const ImU32 colour = (sequence_colour(seq) & 0x00FFFFFF) | (strong ? 0xE0000000 : 0x70000000);
    const ImVec2 a = canvas.at((from.x + from.z) * 0.5f, from.w);
    const ImVec2 b = canvas.at((to.x + to.z) * 0.5f, to.y);
    canvas.draw->AddBezierCubic(a, ImVec2(a.x, a.y + 40), ImVec2(b.x, b.y - 40), b, colour, strong ? 2.0f : 1.0f);
  };
  if (total_blocks <= 16)
    for (int seq = 0; seq < scenario.num_seqs; ++seq)
      for (int logical = 0; logical < divide_round_up(s.seq_len(seq), block_size); ++logical) arrow(seq, logical, false);
  for (int block : working)
    if (block >= 0) arrow(focus_seq, block, true);
  if (hovered_seq >= 0 && hovered_logical >= 0) arrow(hovered_seq, hovered_logical, true);

  const int lane_focus = focus_thread(ui);
  for (int seq = 0; seq < scenario.num_seqs; ++seq) {
    const int seq_len = s.seq_len(seq);
    const int blocks = divide_round_up(seq_len, block_size);
    const std::string label = "seq " + std::to_string(seq) + "\n" + std::to_string(seq_len) + " tokens";
    canvas.draw->AddText(canvas.at(0, seq_top[static_cast<std::size_t>(seq)]), seq == focus_seq ? kSelectionColour : kTextLight,
                         label.c_str());
    for (int logical = 0; logical < blocks; ++logical) {
      const ImVec4 box = logical_box(seq, logical);
      if (!ImGui::IsRectVisible(canvas.at(box.x, box.y), canvas.at(box.z, box.w))) continue;
      const int valid = std::min(block_size, seq_len - logical * block_size);
      const bool is_skipped = skipped(seq, logical);
      partial_fill(box, is_skipped ? dimmed(sequence_colour(seq), 0.75f) : sequence_colour(seq), valid);
      if (is_skipped) hatch(canvas, box);
      if (!overview) {
        const std::string text = "L" + std::to_string(logical) + " -> P" + std::to_string(s.physical_block(seq, logical)) +
                                 (is_skipped                ? "\nskipped"
                                  : valid < block_size ? "\n" + std::to_string(valid) + "/" + std::to_string(block_size)
                                                       : "");
        canvas.draw->AddText(canvas.at(box.x + 3, box.y + 2), is_skipped ? kTextLight : kTextDark, text.c_str());
      }
      // The selected lane's warp takes blocks warp, warp + NUM_WARPS, ... of each partition.
      if (seq == focus_seq && lane_focus >= 0) {
        const int blocks_per_partition = s.is_v2() ? scenario.partition_size / block_size : blocks;
        if ((logical % blocks_per_partition) % s.geometry().num_warps() == lane_focus / kWarpSize)
          canvas.draw->AddRect(canvas.at(box.x + 1, box.y + 1), canvas.at(box.z - 1, box.w - 1), IM_COL32(255, 255, 255, 200), 0, 0,
                               overview ? 1.0f : 1.5f);
      }
      if (seq == focus_seq)
        for (std::size_t warp = 0; warp < working.size(); ++warp)
          if (working[warp] == logical) {
            canvas.draw->AddRect(canvas.at(box.x - 2, box.y - 2), canvas.at(box.z + 2, box.w + 2), kSelectionColour, 0, 0, 2.5f);
            if (!overview) canvas.draw->AddText(canvas.at(box.z - 20, box.w - 14), kTextDark, ("w" + std::to_string(warp)).c_str());
          }
      if (seq == hovered_seq && logical == hovered_logical) {
        canvas.draw->AddRect(canvas.at(box.x - 1, box.y - 1), canvas.at(box.z + 1, box.w + 1), kTextLight, 0, 0, 1.5f);
        ImGui::SetTooltip("seq %d, logical block %d = tokens %d-%d\nblock_tables[%d][%d] = %d\n%d of %d slots hold tokens%s%s%s",
                          seq, logical, logical * block_size, logical * block_size + valid - 1, seq, logical,
                          s.physical_block(seq, logical), valid, block_size,
                          valid < block_size ? "; the rest are padding the kernel reads but masks" : "",
                          s.is_v2() ? ("\nv2 partition " + std::to_string(partition_of_block(logical))).c_str() : "",
                          is_skipped ? ("\nskipped by block sparsity for head " + std::to_string(focus_head) +
                                        ": logits -FLT_MAX, keys and values never read")
                                           .c_str()
                                     : "");
      }
    }
  }

  canvas.draw->AddText(canvas.at(0, pool_top + 4), kTextLight, "KV-cache pool (physical blocks)");
  for (int physical = 0; physical < num_blocks; ++physical) {
    const ImVec4 box = pool_box(physical);
    if (!ImGui::IsRectVisible(canvas.at(box.x, box.y), canvas.at(box.z, box.w))) continue;
    const BlockOwner& owner = s.block_owners()[static_cast<std::size_t>(physical)];
    if (owner.seq_idx >= 0) partial_fill(box, sequence_colour(owner.seq_idx), owner.num_valid_tokens);
    else canvas.draw->AddRect(canvas.at(box.x, box.y), canvas.at(box.z, box.w), IM_COL32(120, 120, 130, 255));
    if (!overview) {
      const std::string text = "P" + std::to_string(physical) + "\n" +
                               (owner.seq_idx >= 0 ? "s" + std::to_string(owner.seq_idx) + " L" + std::to_string(owner.logical_block_idx)
                                                   : std::string("unused"));
      canvas.draw->AddText(canvas.at(box.x + 3, box.y + 2), owner.seq_idx >= 0 ? kTextDark : IM_COL32(150, 150, 160, 255),
                           text.c_str());
    }
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
