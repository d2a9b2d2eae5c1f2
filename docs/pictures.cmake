# Every picture of the docs, in one place. Each line renders one PNG with pal-viz from the run of
# the chapter it belongs to (see render_picture.cmake); the chapter pages show them with
# \image html <name>.png, and Doxygen (WARN_AS_ERROR) fails on a page that names a picture this list
# does not make.
#
#   pal_doc_picture(<chapter> <name> PANEL <panel> STEP <step> [FIGURE <figure>] [SIZE WxH] [EXTRA <flags...>])
#
# <chapter> is the walkthrough's base name (01_inputs_and_paging); <step> a pal-viz step: an index,
# "last", or a stage name (its first step). EXTRA --compare A,B renders the chapter's scenario with
# both versions (render_picture.cmake then drops the chapter's own --version).
#
# SIZE's width is the page's: the content column of a 1000-pixel browser window with the tree view
# is about 720 CSS pixels, and a picture that wide shows pal-viz's 13-pixel text at its own size
# (pictures.css only shrinks pictures, so on a narrower window they scale down). A figure that
# needs more room gets the width it needs (the timeline's controls and the cross-warp tree's three
# columns: about 980, shown at three quarters); render_picture.cmake fails on a figure cut on the
# right. The height is the figure's own (--fit-height), SIZE's only the first guess.
pal_doc_picture(01_inputs_and_paging ch01_paging PANEL paging STEP 0 SIZE 720x500)
pal_doc_picture(02_concepts ch02_threads PANEL threads STEP qk_logits SIZE 720x400)
pal_doc_picture(02_concepts ch02_timeline PANEL timeline STEP qk_logits SIZE 976x760)
pal_doc_picture(03_query ch03_query PANEL memory FIGURE query STEP query_load SIZE 720x320)
pal_doc_picture(03_query ch03_q_vecs PANEL memory FIGURE q_vecs STEP query_load SIZE 720x290)
pal_doc_picture(04_key ch04_key PANEL memory FIGURE key STEP qk_logits SIZE 720x640)
pal_doc_picture(04_key ch04_k_vecs PANEL memory FIGURE k_vecs STEP qk_logits SIZE 720x320)
pal_doc_picture(04_key ch04_coalescing PANEL coalescing STEP qk_logits SIZE 720x520)
pal_doc_picture(05_qk ch05_logits PANEL softmax STEP qk_max SIZE 720x420)
pal_doc_picture(06_softmax ch06_qk_max_butterfly PANEL reductions STEP qk_max SIZE 720x700)
pal_doc_picture(06_softmax ch06_logits_buffer PANEL memory FIGURE logits_vec STEP exp_sum SIZE 720x420)
pal_doc_picture(06_softmax ch06_softmax PANEL softmax STEP softmax SIZE 720x800)
pal_doc_picture(07_value ch07_value PANEL memory FIGURE value STEP value_accumulation SIZE 720x1020)
pal_doc_picture(07_value ch07_logits_vec PANEL memory FIGURE logits_vec STEP value_accumulation SIZE 720x440)
pal_doc_picture(07_value ch07_v_vec PANEL memory FIGURE v_vec STEP value_accumulation SIZE 720x270)
pal_doc_picture(08_lv ch08_lv_butterfly PANEL reductions STEP lv_warp_reduction SIZE 720x690)
pal_doc_picture(08_lv ch08_tree PANEL reductions STEP cross_warp_tree SIZE 984x300)
pal_doc_picture(09_output ch09_output PANEL output STEP last SIZE 720x720)
pal_doc_picture(10_v2_partitions ch10_partition_merge PANEL reductions STEP partition_reduce SIZE 720x260)
pal_doc_picture(10_v2_partitions ch10_paging PANEL paging STEP 0 SIZE 720x620)
pal_doc_picture(10_v2_partitions ch10_timeline PANEL timeline STEP partition_reduce SIZE 976x760)
pal_doc_picture(11_gqa_alibi ch11_threads PANEL threads STEP qk_logits SIZE 720x400)
pal_doc_picture(11_gqa_alibi ch11_softmax PANEL softmax STEP softmax SIZE 720x800)
pal_doc_picture(12_what_came_next ch12_paging PANEL paging STEP 0 SIZE 720x580)
pal_doc_picture(13_grouped_kernel ch13_paging PANEL paging STEP 0 SIZE 720x580)
pal_doc_picture(13_grouped_kernel ch13_compare PANEL compare STEP 0 SIZE 976x760 EXTRA --compare v1,grouped)
pal_doc_picture(14_fp8_kv_cache ch14_coalescing PANEL coalescing STEP qk_logits SIZE 720x520)
pal_doc_picture(15_block_sparse ch15_paging PANEL paging STEP 0 SIZE 730x700)
