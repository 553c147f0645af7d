# scaling.gp - ms/image and parallel efficiency against the thread count, from the CSV that
# `bench_engine --threads 1,2,...,N --batches B --csv FILE` writes (one batch size), with
# PyTorch's line from `bench/vs_pytorch.py --csv` when torch_csv names a file that exists.
# Variables: term, out, csv, torch_csv (optional).
if (term eq "pdf") { set terminal pdfcairo size 8, 3.2 font "Sans,9" } else { set terminal pngcairo size 1000, 400 font "Sans,10" }
set termoption noenhanced
set output out
set datafile separator ","
with_torch = exists("torch_csv") ? (system("test -s '" . torch_csv . "' && echo 1 || echo 0") + 0) : 0
stats csv skip 1 every ::0::0 using 5 nooutput
one_thread = STATS_min
if (with_torch) { stats torch_csv skip 1 every ::0::0 using 5 nooutput; torch_one_thread = STATS_min }
set multiplot layout 1, 2 title "three maps (saliency, deconvnet, guided backprop) from one forward: xaibench's engine" . (with_torch ? " and PyTorch" : "")
set grid
set xlabel "threads"
set xtics 1
set key top right
set ylabel "ms per image"
set yrange [0:*]
set title "time"
if (with_torch) {
    plot csv using 2:5 skip 1 with linespoints pt 7 title "xaibench: forward + 3 maps", \
         csv using 2:3 skip 1 with linespoints pt 5 title "xaibench: forward", \
         torch_csv using 1:5 skip 1 with linespoints pt 9 title "PyTorch: forward + 3 maps", \
         torch_csv using 1:3 skip 1 with linespoints pt 11 title "PyTorch: forward"
} else {
    plot csv using 2:5 skip 1 with linespoints pt 7 title "xaibench: forward + 3 maps", \
         csv using 2:3 skip 1 with linespoints pt 5 title "xaibench: forward"
}
set ylabel "parallel efficiency"
set yrange [0:1.1]
set title "efficiency = t(1) / (threads x t(threads))"
if (with_torch) {
    plot csv using 2:(one_thread / ($2 * $5)) skip 1 with linespoints pt 7 title "xaibench", \
         torch_csv using 1:(torch_one_thread / ($1 * $5)) skip 1 with linespoints pt 9 title "PyTorch"
} else {
    plot csv using 2:(one_thread / ($2 * $5)) skip 1 with linespoints pt 7 title "xaibench"
}
unset multiplot
