# Renders one picture of the docs with pal-viz, off-screen under Xvfb (cmake -P): the panel's figure
# alone (--figure-only: no window title, docs heading or controls, which a page has no use for), as
# tall as the figure (--fit-height: SIZE's height is only the first guess). SIZE's width is chosen
# for the page (pictures.cmake says how); a figure wider than it fails the build, as pal-viz reports
# it cut on the right.
#
# The run is the chapter's own: the walkthrough prints the pal-viz flags of its default scenario and
# focus (--viz-args), so the picture and the captured output of a chapter show the same run.
#
#   -DPROGRAM=pal-NN-topic -DVIZ=pal-viz -DXVFB_RUN=xvfb-run -DOUTPUT=x.png
#   -DPANEL=memory -DSTEP=qk_logits [-DFIGURE=key] [-DSIZE=1200x700] [-DEXTRA="--lane;3"]
execute_process(COMMAND ${PROGRAM} --viz-args RESULT_VARIABLE status OUTPUT_VARIABLE args ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} --viz-args exited with ${status}: ${err}")
endif()
string(STRIP "${args}" args)
separate_arguments(args UNIX_COMMAND "${args}")
# A comparison chooses its two versions (pal-viz refuses --version beside --compare).
list(FIND EXTRA "--compare" compare_at)
if(compare_at GREATER -1)
  list(FIND args "--version" version_at)
  if(version_at GREATER -1)
    list(REMOVE_AT args ${version_at})
    list(REMOVE_AT args ${version_at})
  endif()
endif()
set(command ${XVFB_RUN} -a ${VIZ} ${args} --backend emulator --panel ${PANEL} --step ${STEP} --figure-only
    --screenshot ${OUTPUT} --fit-height)
if(FIGURE)
  list(APPEND command --figure ${FIGURE})
endif()
if(SIZE)
  list(APPEND command --size ${SIZE})
endif()
if(EXTRA)
  list(APPEND command ${EXTRA})
endif()
file(REMOVE ${OUTPUT})
execute_process(COMMAND ${command} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REPLACE ";" " " shown "${command}")
if(NOT status EQUAL 0 OR NOT EXISTS ${OUTPUT})
  message(FATAL_ERROR "pal-viz did not write ${OUTPUT} (exit ${status})\ncommand: ${shown}\n${out}\n${err}")
endif()
if(err MATCHES "cut on the right")
  file(REMOVE ${OUTPUT})
  message(FATAL_ERROR "${err}command: ${shown}\n(a wider SIZE in docs/pictures.cmake, or a narrower figure)")
endif()
