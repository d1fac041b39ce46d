import numpy as np


def max_pool2d(x: np.ndarray, k: int = 2, s: int = 2) -> np.ndarray:
    """对一张二维特征图 x 做最大池化: k x k 的窗口, 步长 s, 不填充。"""
    h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1  # 输出尺寸: floor((H - K) / S) + 1
    out = np.zeros((oh, ow))
    for i in range(oh):  # 逐个输出行
        for j in range(ow):  # 逐个输出列
            window = x[i * s:i * s + k, j * s:j * s + k]  # 输出 (i, j) 对应的 k x k 输入窗口
            out[i, j] = window.max()  # 取窗口中的最大值
    return out


def avg_pool2d(x: np.ndarray, k: int = 2, s: int = 2) -> np.ndarray:
    """对一张二维特征图 x 做平均池化: k x k 的窗口, 步长 s, 不填充。"""
    h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1  # 输出尺寸与最大池化相同
    out = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = x[i * s:i * s + k, j * s:j * s + k]
            out[i, j] = window.sum() / (k * k)  # k * k 个数的平均值
    return out
